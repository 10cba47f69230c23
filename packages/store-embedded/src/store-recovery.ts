import fs from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

import { BackendUnavailableError, InvalidInputError, ModelMismatchError } from '@clip-search/contracts';
import { checkSqliteFile, type SqliteCheck } from '@clip-search/sqlite';
import type { Metadata, VectorItem } from '@clip-search/contracts';
import { isUnitVector } from '@clip-search/contracts';
import { STORE_FILE, STORE_FORMAT_VERSION } from './store-opening';
import { ItemTable } from './item-table';

/** What `recoverEmbeddedStore` did. */
export interface StoreRecovery {
  /** The fresh store file, in place of the damaged one. */
  readonly file: string;
  /** Where the damaged file was kept (its WAL, if any, beside it with `-wal`). */
  readonly damagedFile: string;
  /** Items copied into the fresh store. */
  readonly recovered: number;
  /** Items the damaged file still counted, when it could count them (its indexes may outlive the table). */
  readonly expected: number | undefined;
  /** Labels whose rows SQLite could not read. */
  readonly unreadable: number;
  /** Rows read but not valid items (garbled id, vector, metadata…), left out. */
  readonly invalid: number;
  readonly modelId: string;
  readonly dim: number;
}

export interface StoreRecoveryOptions {
  /** The store's model, when its own record of it is unreadable (otherwise it must agree). */
  readonly modelId?: string;
  /** The store's dimension, when its own record of it is unreadable (otherwise it must agree). */
  readonly dim?: number;
  /** Names the damaged file `store.db.damaged-<now>` (default: the current time). */
  readonly now?: Date;
}

/** Items written to the fresh store per transaction. */
const WRITE_CHUNK = 1_024;
/**
 * When the damaged file knows no highest label, probing past a damaged region stops after this many labels
 * in a row that fail: beyond that, the table's tree itself is gone.
 */
const MAX_FAILED_PROBES = 1_000_000;

const ROW_COLUMNS = 'label, id, uri, content_hash, width, height, ingested_at, metadata, vector';

interface Row {
  label: number;
  id: unknown;
  uri: unknown;
  content_hash: unknown;
  width: unknown;
  height: unknown;
  ingested_at: unknown;
  metadata: unknown;
  vector: unknown;
}

/**
 * Runs `PRAGMA quick_check` (`full`: `integrity_check`) on the store in `dir`, which must not be open in
 * another process.
 */
export async function checkEmbeddedStore(
  dir: string,
  options: { readonly full?: boolean } = {},
): Promise<{ readonly file: string; readonly check: SqliteCheck }> {
  const file = existingStoreFile(dir);
  return { file, check: await checkSqliteFile(file, { full: options.full === true }) };
}

/**
 * Salvages every readable item of a damaged store in `dir` into a fresh store that replaces it, keeping the
 * damaged file as `store.db.damaged-<time>`. The index snapshot is not carried over: the next open rebuilds
 * the index from the items. Items lost are restored by re-ingesting their folders (files already in the
 * store are skipped, so only the lost ones are embedded again).
 *
 * SQLite reads a table as a tree of pages: a damaged page loses the rows on it (or, for an inner page, the
 * rows below it), not the rest. Rows are read in label order; where a read fails, the labels after the last
 * good one are probed one by one until a seek past the damage succeeds, and reading resumes from there.
 *
 * The damaged file is held under an exclusive lock from start to end, so a server cannot open it meanwhile
 * (and a running server makes this fail at once). The fresh store is complete and durable before it takes
 * the damaged file's name in one rename; a crash before that leaves the damaged store where it was.
 */
export function recoverEmbeddedStore(dir: string, options: StoreRecoveryOptions = {}): StoreRecovery {
  const file = existingStoreFile(dir);
  const stamp = (options.now ?? new Date()).toISOString().replace(/[:.]/g, '-');
  const damagedFile = `${file}.damaged-${stamp}`;
  const partial = `${file}.recovering-${stamp}`;
  const source = openDamaged(file);
  let target: ItemTable | undefined;
  try {
    const identity = storeIdentity(source, options, dir);
    const expected = attempt(() => source.prepare('SELECT count(*) FROM items').pluck().get() as number);
    removeDatabase(partial);
    target = ItemTable.open(partial, identity.modelId);
    target.setMeta({ format: STORE_FORMAT_VERSION, dim: String(identity.dim), model_id: identity.modelId });
    const counts = salvage(source, target, identity);
    target.close();
    source.close();
    replaceDamaged(file, damagedFile, partial);
    return { file, damagedFile, expected, ...counts, ...identity };
  } catch (error) {
    target?.close();
    removeDatabase(partial);
    throw error;
  } finally {
    if (source.open) source.close();
  }
}

function existingStoreFile(dir: string): string {
  const file = join(dir, STORE_FILE);
  if (!fs.existsSync(file))
    throw new InvalidInputError(`no vector store in ${dir} (${STORE_FILE} is missing)`);
  return file;
}

/** Opens the damaged file and takes its lock (as the store does), or says who holds it. */
function openDamaged(file: string): Database.Database {
  const db = new Database(file, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // A write lock, held until close: SQLite's exclusive mode keeps it once taken.
    db.exec('BEGIN IMMEDIATE; ROLLBACK');
    return db;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      db.close();
      throw new BackendUnavailableError(
        `${file} is open in another process (a running server?): stop it before recovering the store`,
      );
    }
    // A header too damaged to lock: nothing else can open it either, and the salvage reads what it can.
    return db;
  }
}

/** The model and dimension of the store: its own record, or the caller's where that is unreadable. */
function storeIdentity(
  source: Database.Database,
  options: StoreRecoveryOptions,
  dir: string,
): { modelId: string; dim: number } {
  const meta = new Map(
    attempt(() => source.prepare('SELECT key, value FROM meta').raw().all() as [string, string][]) ?? [],
  );
  const recordedModel = meta.get('model_id');
  const recordedDim = meta.has('dim') ? Number(meta.get('dim')) : undefined;
  if (options.modelId !== undefined && recordedModel !== undefined && options.modelId !== recordedModel)
    throw new ModelMismatchError(
      `the store in ${dir} holds vectors of model "${recordedModel}", not "${options.modelId}"`,
    );
  if (options.dim !== undefined && recordedDim !== undefined && options.dim !== recordedDim)
    throw new ModelMismatchError(`the store in ${dir} holds ${recordedDim}-d vectors, not ${options.dim}-d`);
  const modelId = recordedModel ?? options.modelId;
  const dim = recordedDim ?? options.dim;
  if (modelId === undefined || dim === undefined || !Number.isInteger(dim) || dim <= 0)
    throw new InvalidInputError(
      `the store in ${dir} no longer says which model it holds: give the model id and dimension it was ` +
        'built with (--model-id, --dim; `clip-search embed --text x` prints both for the configured model)',
    );
  return { modelId, dim };
}

/** Copies every readable, valid item from `source` into `target`. */
function salvage(
  source: Database.Database,
  target: ItemTable,
  identity: { modelId: string; dim: number },
): { recovered: number; unreadable: number; invalid: number } {
  const scan = attempt(() =>
    source.prepare(`SELECT ${ROW_COLUMNS} FROM items WHERE label > ? ORDER BY label`),
  );
  // `>=`, not `>`: a seek past a label lands on that label's page first, which may be the damaged one.
  const next = attempt(() =>
    source.prepare(`SELECT ${ROW_COLUMNS} FROM items WHERE label >= ? ORDER BY label LIMIT 1`),
  );
  // No readable schema: the table cannot even be found.
  if (scan === undefined || next === undefined) return { recovered: 0, unreadable: 0, invalid: 0 };
  const maxLabel =
    attempt(() => source.prepare('SELECT max(label) FROM items').pluck().get() as number | null) ??
    attempt(
      () =>
        source.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'items'").pluck().get() as
          number | undefined,
    ) ??
    undefined;
  let recovered = 0;
  let unreadable = 0;
  let invalid = 0;
  let pending: VectorItem[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    target.upsert(pending);
    recovered += pending.length;
    pending = [];
  };
  const take = (row: Row) => {
    const item = toItem(row, identity);
    if (item === undefined) invalid++;
    else pending.push(item);
    if (pending.length >= WRITE_CHUNK) flush();
  };
  const plausible = (row: Row) => maxLabel === undefined || row.label <= maxLabel;

  let after = 0;
  for (;;) {
    try {
      for (const row of scan.iterate(after) as IterableIterator<Row>) {
        if (!plausible(row)) {
          invalid++;
          continue;
        }
        take(row);
        after = row.label;
      }
      break; // read to the end
    } catch (error) {
      if (!isSqliteError(error)) throw error;
    }
    // The read failed past `after`: probe forward until a seek lands beyond the damage.
    let from = after + 1;
    let resumed = false;
    for (let failed = 0; failed < MAX_FAILED_PROBES; failed++) {
      if (maxLabel !== undefined && from > maxLabel) break;
      let row: Row | undefined;
      try {
        row = next.get(from) as Row | undefined;
      } catch (error) {
        if (!isSqliteError(error)) throw error;
        unreadable++;
        from++;
        continue;
      }
      if (row === undefined) break; // nothing after the damage
      if (!plausible(row)) {
        from++;
        continue;
      }
      take(row);
      after = row.label;
      resumed = true;
      break;
    }
    if (!resumed) break;
  }
  flush();
  return { recovered, unreadable, invalid };
}

/** A row as an item, or undefined when any field is not what the store writes. */
function toItem(row: Row, identity: { modelId: string; dim: number }): VectorItem | undefined {
  const { id, uri, content_hash: contentHash, width, height, ingested_at: ingestedAt } = row;
  if (typeof id !== 'string' || id.length === 0 || typeof uri !== 'string') return undefined;
  if (typeof contentHash !== 'string' || typeof ingestedAt !== 'string') return undefined;
  if (!isSize(width) || !isSize(height)) return undefined;
  if (!Buffer.isBuffer(row.vector) || row.vector.byteLength !== identity.dim * 4) return undefined;
  if (typeof row.metadata !== 'string') return undefined;
  let metadata: unknown;
  try {
    metadata = JSON.parse(row.metadata);
  } catch {
    return undefined;
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return undefined;
  const vector = new Float32Array(identity.dim);
  new Uint8Array(vector.buffer).set(row.vector);
  if (!isUnitVector(vector)) return undefined;
  return {
    id,
    uri,
    contentHash,
    width,
    height,
    ingestedAt,
    metadata: metadata as Metadata,
    vector,
    modelId: identity.modelId,
  };
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/**
 * Keeps the damaged file under its new name and moves the fresh one into place. The damaged file gets its
 * second name first (a hard link, or a copy where links are not supported), so that `store.db` names a
 * whole store at every instant; the fresh file then replaces it in one rename. A WAL left beside the damaged
 * file (the close that checkpoints it may fail on a damaged file) moves with it: it must never be replayed
 * into the fresh one.
 */
function replaceDamaged(file: string, damagedFile: string, fresh: string): void {
  try {
    fs.linkSync(file, damagedFile);
  } catch {
    fs.copyFileSync(file, damagedFile, fs.constants.COPYFILE_EXCL);
  }
  for (const suffix of ['-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, damagedFile + suffix);
  }
  fs.renameSync(fresh, file);
  const dir = fs.openSync(join(file, '..'), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

function removeDatabase(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) fs.rmSync(file + suffix, { force: true });
}

/** The value, or undefined when SQLite cannot read it. */
function attempt<T>(read: () => T): NonNullable<T> | undefined {
  try {
    return read() ?? undefined;
  } catch (error) {
    if (isSqliteError(error)) return undefined;
    throw error;
  }
}

/**
 * By its code, not by `instanceof`: the native addon keeps the SqliteError class (and so the Error) of
 * whichever copy of the module loaded it first, which is not ours where modules load more than once (Jest's
 * per-file realms, bundles).
 */
function isSqliteError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}
