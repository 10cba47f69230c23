import { BackendUnavailableError, checkSearchRequest, InvalidInputError } from '@clip-search/contracts';
import { createSilentLogger, type Logger } from '@clip-search/platform';
import type {
  ItemRecord,
  MetadataFilter,
  ScanPage,
  SearchHit,
  SearchRequest,
  VectorItem,
  VectorStore,
} from '@clip-search/contracts';
import { checkIndexIntegrity, type IndexIntegrity } from './index-integrity';
import { IndexLifecycle } from './index-lifecycle';
import type { ItemTable } from './item-table';
import { compileFilter } from './metadata-fields';
import { SearchPlanner } from './search-planner';
import { type EmbeddedVectorStoreOptions, storeSettings } from './store-options';
import { damagedIfCorrupt, openStoreTable, storeFile } from './store-opening';
import { StoreWrites } from './store-writes';
import { WriteQueue } from './write-queue';

export type { SearchPlan } from './search-planner';
export type { EmbeddedVectorStoreOptions } from './store-options';
export { STORE_FILE, STORE_FORMAT_VERSION } from './store-opening';

const MAX_SCAN_LIMIT = 10_000;

/**
 * Opens (or creates) the embedded store in `options.dir`. Refuses, with ModelMismatchError, a store written
 * with another dimension or model. Loads the index snapshot and replays the writes made after it, or rebuilds
 * the index from the item table when the snapshot is missing or damaged (synchronous work, in steps: about
 * 1 ms per vector on one core, see the README's numbers).
 */
export async function openEmbeddedVectorStore(
  options: EmbeddedVectorStoreOptions,
): Promise<EmbeddedVectorStore> {
  const logger = options.logger ?? createSilentLogger();
  const table = await openStoreTable(options, logger);
  try {
    const store = new EmbeddedVectorStore(table, options, logger);
    await store.loadIndex();
    return store;
  } catch (error) {
    table.close();
    throw damagedIfCorrupt(storeFile(options.dir), error);
  }
}

/**
 * The VectorStore of one machine: an SQLite item table (the truth) and an HNSW index over it, composed of
 * the index's lifecycle (open, snapshots, close), the queue of writes and the search planner.
 */
export class EmbeddedVectorStore implements VectorStore {
  readonly dim: number;
  readonly modelId: string;
  /** Writes run one at a time, in call order; reads run between their steps. */
  private readonly queue = new WriteQueue();
  private readonly live: IndexLifecycle;
  private readonly writes: StoreWrites;
  private readonly planner: SearchPlanner;
  private closed = false;

  /** Use openEmbeddedVectorStore. */
  constructor(
    private readonly table: ItemTable,
    options: EmbeddedVectorStoreOptions,
    logger: Logger,
  ) {
    this.dim = options.dim;
    this.modelId = options.modelId;
    const settings = storeSettings(options);
    this.live = new IndexLifecycle({
      dir: options.dir,
      table,
      writes: this.queue,
      indexOptions: settings.index,
      snapshotEvery: settings.snapshotEvery,
      logger,
    });
    this.writes = new StoreWrites(table, this.live, this.queue, { modelId: this.modelId, dim: this.dim });
    this.planner = new SearchPlanner({
      table,
      index: () => this.live.index,
      exactMax: settings.exactMax,
      expansionSearch: settings.index.expansionSearch,
      onSearch: options.onSearch,
    });
  }

  /** @internal Brings the index up to the item table: snapshot + replay, or a full rebuild. */
  loadIndex(): Promise<void> {
    return this.live.load();
  }

  // ---- writes --------------------------------------------------------------------------------------------

  async upsert(items: readonly VectorItem[]): Promise<void> {
    this.assertOpen();
    await this.writes.upsert(items);
  }

  delete(ids: readonly string[]): Promise<number> {
    return settle(() => {
      this.assertOpen();
      return this.writes.delete(ids);
    });
  }

  // ---- reads ---------------------------------------------------------------------------------------------

  get(ids: readonly string[]): Promise<(ItemRecord | undefined)[]> {
    return settle(() => {
      this.assertOpen();
      if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
        throw new InvalidInputError('get takes an array of id strings');
      }
      return ids.map((id) => this.table.get(id));
    });
  }

  getVector(id: string): Promise<Float32Array | undefined> {
    return settle(() => {
      this.assertOpen();
      if (typeof id !== 'string') throw new InvalidInputError('getVector takes an id string');
      return this.table.getVector(id);
    });
  }

  count(filter?: MetadataFilter): Promise<number> {
    return settle(() => {
      this.assertOpen();
      const compiled = compileFilter(filter);
      return compiled.matchesAll ? this.table.countAll() : this.table.count(compiled.select);
    });
  }

  scan(options: {
    readonly filter?: MetadataFilter;
    readonly after?: string;
    readonly limit: number;
  }): Promise<ScanPage> {
    return settle(() => {
      this.assertOpen();
      if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > MAX_SCAN_LIMIT) {
        throw new InvalidInputError(`scan limit must be an integer from 1 to ${MAX_SCAN_LIMIT}`);
      }
      if (options.after !== undefined && typeof options.after !== 'string') {
        throw new InvalidInputError('scan `after` must be an id string');
      }
      const rows = this.table.scan(compileFilter(options.filter).select, options.after, options.limit + 1);
      if (rows.length <= options.limit) return { items: rows };
      const items = rows.slice(0, options.limit);
      return { items, next: (items.at(-1) as ItemRecord).id };
    });
  }

  /** Exact or approximate as the search planner decides (see SearchPlanner). */
  search(request: SearchRequest): Promise<SearchHit[]> {
    return settle(() => {
      this.assertOpen();
      checkSearchRequest(request, this.dim);
      this.live.assertUpToDate();
      return this.planner.search(request);
    });
  }

  /**
   * Checks that the index holds exactly the item table (see checkIndexIntegrity). Reads every vector: for
   * diagnostics and tests, not for a health probe.
   */
  checkIntegrity(): Promise<IndexIntegrity> {
    return settle(() => {
      this.assertOpen();
      return checkIndexIntegrity(this.table, this.live.index);
    });
  }

  // ---- health and lifecycle ------------------------------------------------------------------------------

  health(): Promise<{ readonly ok: boolean; readonly detail?: string }> {
    if (this.closed) return Promise.resolve({ ok: false, detail: 'closed' });
    const failure = this.live.failure;
    if (failure) return Promise.resolve({ ok: false, detail: `index update failed: ${failure.message}` });
    try {
      const items = this.table.countAll();
      const detail = `${items} items, ${this.live.index.size} indexed, ${this.live.changesSinceSnapshot} changes since the index snapshot`;
      return Promise.resolve({ ok: true, detail });
    } catch (error) {
      return Promise.resolve({ ok: false, detail: (error as Error).message });
    }
  }

  /** Waits for pending writes, saves a snapshot of what changed since the last one, and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.idle();
    await this.live.saveBeforeClose();
    this.table.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new BackendUnavailableError('the vector store is closed');
  }
}

/** Runs a synchronous body as a promise: a throw becomes a rejection, as callers of an async API expect. */
function settle<T>(body: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
