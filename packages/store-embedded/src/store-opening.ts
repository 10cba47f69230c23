import { existsSync, mkdirSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';

import { BackendUnavailableError, InvalidInputError, ModelMismatchError } from '@clip-search/contracts';
import type { Logger } from '@clip-search/platform';
import { checkSqliteFile, isCorruptionError } from '@clip-search/sqlite';
import { DamagedStoreError } from './damaged-store-error';
import { ItemTable } from './item-table';
import type { EmbeddedVectorStoreOptions } from './store-options';

/** The layout of the store's tables; a store of another format refuses to open. */
export const STORE_FORMAT_VERSION = '1';
/** The store's SQLite file in its directory. */
export const STORE_FILE = 'store.db';
const DEFAULT_CHECK_TIMEOUT_MS = 30_000;

/**
 * Opens the item table of the store in `options.dir` (created when absent), once the options, the machine
 * and the store file pass their checks. Refuses, with ModelMismatchError, a store written with another
 * dimension or model; a new store records the ones it is opened with.
 */
export async function openStoreTable(
  options: EmbeddedVectorStoreOptions,
  logger: Logger,
): Promise<ItemTable> {
  if (!Number.isInteger(options.dim) || options.dim <= 0) {
    throw new InvalidInputError(`dim must be a positive integer, got ${options.dim}`);
  }
  if (typeof options.modelId !== 'string' || options.modelId.length === 0) {
    throw new InvalidInputError('modelId must be a non-empty string');
  }
  // Vectors are stored as the machine's float32 bytes; the format says little-endian.
  if (endianness() !== 'LE') throw new Error('the embedded vector store needs a little-endian machine');
  mkdirSync(options.dir, { recursive: true });
  const file = storeFile(options.dir);
  await checkStoreFile(file, options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS, logger);
  const table = openTable(file, options);
  try {
    checkIdentity(table, options);
    return table;
  } catch (error) {
    table.close();
    throw damagedIfCorrupt(file, error);
  }
}

/** The SQLite file of the store in `dir`. */
export function storeFile(dir: string): string {
  return join(dir, STORE_FILE);
}

/**
 * `error` as a DamagedStoreError of `file` when SQLite found the file corrupt, otherwise as it is. Damage
 * quick_check cannot see (or had no time to find) surfaces as such errors once the store is open.
 */
export function damagedIfCorrupt(file: string, error: unknown): unknown {
  return isCorruptionError(error)
    ? new DamagedStoreError(file, [(error as Error).message], { cause: error })
    : error;
}

/**
 * A damaged file must not be served from: SQLite reads a damaged page only when a query reaches it, so a
 * server would start, look healthy and fail (or miss items) later. quick_check reads every page once, in
 * a child process that is killed when it runs out of time (see checkSqliteFile).
 */
async function checkStoreFile(file: string, timeoutMs: number, logger: Logger): Promise<void> {
  if (timeoutMs === 0 || !existsSync(file)) return;
  const check = await checkSqliteFile(file, { timeoutMs });
  switch (check.state) {
    case 'ok':
      logger.info('vector store file checked', { file, ms: check.ms });
      return;
    case 'damaged':
      throw new DamagedStoreError(file, check.problems);
    case 'busy':
      return; // The open that follows reports the other process.
    case 'timeout':
      // A store too large to check within the limit still serves: availability over a certainty that the
      // operator can get offline with `clip-search store check`.
      logger.warn('vector store check ran out of time; opening the store unchecked', {
        file,
        ms: check.ms,
        hint: 'run `clip-search store check` while the server is stopped, or raise STORE_CHECK_TIMEOUT_MS',
      });
      return;
    case 'failed':
      logger.warn('vector store check could not run; opening the store unchecked', {
        file,
        reason: check.reason,
      });
      return;
  }
}

function openTable(file: string, options: EmbeddedVectorStoreOptions): ItemTable {
  try {
    return ItemTable.open(file, options.modelId);
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      throw new BackendUnavailableError(`vector store ${options.dir} is open in another process`, 5, {
        cause: error,
      });
    }
    throw damagedIfCorrupt(file, error);
  }
}

/** A store holds the vectors of one model: mixing two would make every score meaningless. */
function checkIdentity(table: ItemTable, options: EmbeddedVectorStoreOptions): void {
  const dim = table.getMeta('dim');
  const modelId = table.getMeta('model_id');
  if (dim === undefined || modelId === undefined) {
    table.setMeta({ format: STORE_FORMAT_VERSION, dim: String(options.dim), model_id: options.modelId });
    return;
  }
  if (Number(dim) !== options.dim || modelId !== options.modelId) {
    throw new ModelMismatchError(
      `vector store ${options.dir} holds ${dim}-d vectors of model "${modelId}", but ${options.dim}-d vectors ` +
        `of model "${options.modelId}" were asked for: use another directory for the new model, or re-ingest`,
    );
  }
  const format = table.getMeta('format');
  if (format !== STORE_FORMAT_VERSION) {
    throw new InvalidInputError(
      `vector store ${options.dir} has format ${format ?? 'unknown'}, expected ${STORE_FORMAT_VERSION}`,
    );
  }
}
