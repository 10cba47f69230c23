import { existsSync, mkdirSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

import { BackendUnavailableError, InvalidInputError, ModelMismatchError } from '@clip-search/contracts';
import { createSilentLogger, type Logger } from '@clip-search/platform';
import { checkSqliteFile, isCorruptionError } from '@clip-search/sqlite';
import type {
  ItemRecord,
  MetadataFilter,
  ScanPage,
  SearchHit,
  SearchRequest,
  VectorItem,
  VectorStore,
} from '@clip-search/contracts';
import { checkItem, checkSearchRequest } from '@clip-search/contracts';
import { AnnIndex, type AnnIndexOptions } from './ann-index';
import { DamagedStoreError } from './damaged-store-error';
import {
  checkSnapshot,
  parseManifest,
  removeOtherSnapshots,
  type SnapshotManifest,
  writeSnapshot,
} from './index-snapshot';
import { ItemTable, type LabelledVector } from './item-table';
import { type CompiledFilter, compileFilter } from './metadata-fields';
import { byScoreThenId, innerProduct, type Scored } from './scoring';

export interface EmbeddedVectorStoreOptions {
  /** Directory of the store (created when absent): `store.db` (+ WAL) and the index snapshot. */
  readonly dir: string;
  /** Vector dimension of the embedder; a store refuses to open with another one. */
  readonly dim: number;
  /** Embedder model id; a store refuses to open with another one. */
  readonly modelId: string;
  /** Filters that leave at most this many items are answered by exact search. Default 2048. */
  readonly exactSearchMaxCandidates?: number;
  /** HNSW links per node (M). Default 16. Changing it rebuilds the index on the next open. */
  readonly connectivity?: number;
  /** HNSW efConstruction. Default 128. */
  readonly expansionAdd?: number;
  /** HNSW ef at search time, also the depth of the first result window. Default 128. */
  readonly expansionSearch?: number;
  /** Save an index snapshot once this many items changed since the last one. Default 10,000. */
  readonly snapshotEvery?: number;
  /**
   * Time limit of the `PRAGMA quick_check` run on an existing store file at open (default 30 s; 0 skips
   * it). A damaged file refuses to open; a check that runs out of time is logged and the store opens.
   */
  readonly checkTimeoutMs?: number;
  readonly logger?: Logger;
  /** Told how each search was answered (for metrics and tests). */
  readonly onSearch?: (plan: SearchPlan) => void;
}

/** How one search was answered. */
export interface SearchPlan {
  /** `exact`: every item the filter leaves was scored; `approximate`: the HNSW index was searched. */
  readonly path: 'exact' | 'approximate';
  /** Items scored (exact) or candidates taken from the index (approximate, the final depth). */
  readonly scanned: number;
}

const MAX_SCAN_LIMIT = 10_000;
/** Rows per SQLite transaction when upserting (each commit is one fsync). */
const WRITE_CHUNK = 1_024;
/** Vectors inserted into the index between yields to the event loop (each takes ~0.3–1 ms). */
const INDEX_CHUNK = 64;
/** Vectors read per page when rebuilding or catching up the index at open… */
const OPEN_CHUNK = 8_192;
/** …and inserted between yields to the event loop. */
const OPEN_STEP = 256;
/** Filtered approximate searches deepen until this many times the wanted hits pass the filter. */
const CANDIDATE_MARGIN = 3;
/**
 * Deleted (and replaced) items stay in the graph as routing nodes until a rebuild: one happens at open once
 * the graph has more than this many nodes per live item.
 */
const COMPACT_ABOVE = 2;
/** The layout of the store's tables; a store of another format refuses to open. */
export const STORE_FORMAT_VERSION = '1';
/** The store's SQLite file in its directory. */
export const STORE_FILE = 'store.db';
const DEFAULT_CHECK_TIMEOUT_MS = 30_000;

/**
 * Opens (or creates) the embedded store in `options.dir`. Refuses, with ModelMismatchError, a store written
 * with another dimension or model. Loads the index snapshot and replays the writes made after it, or rebuilds
 * the index from the item table when the snapshot is missing or damaged (synchronous work, in steps: about
 * 1 ms per vector on one core, see the README's numbers).
 */
export async function openEmbeddedVectorStore(
  options: EmbeddedVectorStoreOptions,
): Promise<EmbeddedVectorStore> {
  if (!Number.isInteger(options.dim) || options.dim <= 0) {
    throw new InvalidInputError(`dim must be a positive integer, got ${options.dim}`);
  }
  if (typeof options.modelId !== 'string' || options.modelId.length === 0) {
    throw new InvalidInputError('modelId must be a non-empty string');
  }
  // Vectors are stored as the machine's float32 bytes; the format says little-endian.
  if (endianness() !== 'LE') throw new Error('the embedded vector store needs a little-endian machine');
  mkdirSync(options.dir, { recursive: true });
  const logger = options.logger ?? createSilentLogger();
  const file = join(options.dir, STORE_FILE);
  await checkStoreFile(file, options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS, logger);
  const table = openTable(file, options);
  try {
    checkIdentity(table, options);
    const store = new EmbeddedVectorStore(table, options, logger);
    await store.loadIndex();
    return store;
  } catch (error) {
    table.close();
    // Damage quick_check cannot see (or that it had no time to find) surfaces as SQLite errors here.
    throw isCorruptionError(error)
      ? new DamagedStoreError(file, [(error as Error).message], { cause: error })
      : error;
  }
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
    if (isCorruptionError(error))
      throw new DamagedStoreError(file, [(error as Error).message], { cause: error });
    throw error;
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

export class EmbeddedVectorStore implements VectorStore {
  readonly dim: number;
  readonly modelId: string;
  private readonly indexOptions: AnnIndexOptions;
  private readonly exactMax: number;
  private readonly snapshotEvery: number;
  private index: AnnIndex;
  /** Items changed since the recorded snapshot. */
  private unsnapshotted = 0;
  private snapshot: SnapshotManifest | undefined;
  private snapshotting: Promise<void> | undefined;
  /** Writes run one at a time, in call order; reads run between their steps. */
  private writes: Promise<unknown> = Promise.resolve();
  private indexFailure: Error | undefined;
  private closed = false;

  /** Use openEmbeddedVectorStore. */
  constructor(
    private readonly table: ItemTable,
    private readonly options: EmbeddedVectorStoreOptions,
    private readonly logger: Logger,
  ) {
    this.dim = options.dim;
    this.modelId = options.modelId;
    this.indexOptions = {
      dim: options.dim,
      connectivity: positiveInteger(options.connectivity, 16, 'connectivity'),
      expansionAdd: positiveInteger(options.expansionAdd, 128, 'expansionAdd'),
      expansionSearch: positiveInteger(options.expansionSearch, 128, 'expansionSearch'),
    };
    this.exactMax = positiveInteger(options.exactSearchMaxCandidates, 2_048, 'exactSearchMaxCandidates');
    this.snapshotEvery = positiveInteger(options.snapshotEvery, 10_000, 'snapshotEvery');
    this.index = AnnIndex.create(this.indexOptions);
  }

  // ---- opening -------------------------------------------------------------------------------------------

  /** @internal Brings the index up to the item table: snapshot + replay, or a full rebuild. */
  async loadIndex(): Promise<void> {
    const manifest = parseManifest(this.table.getMeta('snapshot'));
    const expected = this.table.countAll();
    let loaded = false;
    if (manifest) {
      const problem = await this.tryLoadSnapshot(manifest);
      const { nodes } = this.index.state;
      if (
        problem === undefined &&
        this.index.size === expected &&
        nodes <= COMPACT_ABOVE * expected + OPEN_CHUNK
      ) {
        loaded = true;
        this.snapshot = manifest;
      } else {
        this.logger.warn('vector index snapshot unusable, rebuilding from the item table', {
          dir: this.options.dir,
          reason:
            problem ??
            (this.index.size === expected
              ? `compacting: ${nodes} nodes for ${expected} items`
              : `index holds ${this.index.size} vectors after catching up, the table ${expected}`),
        });
      }
    }
    if (!loaded) {
      await this.rebuild();
      // A rebuild is the slow path: save it so that the next open is fast.
      if (this.index.size > 0) await this.snapshotNow();
    }
    await removeOtherSnapshots(this.options.dir, this.snapshot?.file);
  }

  private async tryLoadSnapshot(manifest: SnapshotManifest): Promise<string | undefined> {
    const problem = await checkSnapshot(this.options.dir, manifest);
    if (problem !== undefined) return problem;
    try {
      this.index = AnnIndex.load(join(this.options.dir, manifest.file), this.indexOptions, manifest.index);
    } catch (error) {
      this.index = AnnIndex.create(this.indexOptions);
      return `cannot load ${manifest.file}: ${(error as Error).message}`;
    }
    const started = performance.now();
    const removed = this.table.removedSince(manifest.seq);
    this.index.remove(removed);
    let changed = 0;
    for (const batch of batches(this.table.changedSince(manifest.seq), OPEN_CHUNK)) {
      await this.insertInSteps(batch);
      changed += batch.length;
    }
    this.unsnapshotted = changed + removed.length;
    this.logger.info('vector index loaded from snapshot', {
      dir: this.options.dir,
      vectors: this.index.size,
      replayedUpserts: changed,
      replayedDeletes: removed.length,
      replayMs: Math.round(performance.now() - started),
    });
    return undefined;
  }

  private async rebuild(): Promise<void> {
    const started = performance.now();
    const total = this.table.countAll();
    this.index = AnnIndex.create(this.indexOptions);
    this.snapshot = undefined;
    for (const page of this.table.vectorPages(OPEN_CHUNK)) {
      await this.insertInSteps(page);
      if (total > OPEN_CHUNK) {
        this.logger.info('rebuilding vector index', { dir: this.options.dir, done: this.index.size, total });
      }
    }
    this.unsnapshotted = 0;
    this.logger.info('vector index rebuilt from the item table', {
      dir: this.options.dir,
      vectors: this.index.size,
      ms: Math.round(performance.now() - started),
    });
  }

  /**
   * Inserts many vectors, yielding to the event loop between steps: opening a store may take minutes of
   * inserts, during which the process should still answer (a health probe, a log flush).
   */
  private async insertInSteps(items: readonly LabelledVector[]): Promise<void> {
    for (let at = 0; at < items.length; at += OPEN_STEP) {
      this.insert(items.slice(at, at + OPEN_STEP));
      await yieldToEventLoop();
    }
  }

  /** Inserts the vectors into the index under their (new) labels. */
  private insert(items: readonly LabelledVector[]): void {
    const labels = items.map((item) => item.label);
    const packed = new Float32Array(items.length * this.dim);
    items.forEach((item, row) => {
      packed.set(item.vector, row * this.dim);
    });
    this.index.add(labels, packed);
  }

  // ---- writes --------------------------------------------------------------------------------------------

  async upsert(items: readonly VectorItem[]): Promise<void> {
    this.assertOpen();
    const given: unknown = items;
    if (!Array.isArray(given)) throw new InvalidInputError('upsert takes an array of items');
    for (const item of given) checkItem(item, { modelId: this.modelId, dim: this.dim });
    // Within one call the last item of an id wins, as if they had been upserted one after the other.
    const unique = [...new Map(items.map((item) => [item.id, item])).values()];
    if (unique.length === 0) return;
    await this.serialized(async () => {
      for (let start = 0; start < unique.length; start += WRITE_CHUNK) {
        const chunk = unique.slice(start, start + WRITE_CHUNK);
        // Durable first: the item table is the truth, the index follows (and is caught up on open if the
        // process dies in between).
        const { labels, replaced } = this.table.upsert(chunk);
        this.applyToIndex(() => {
          this.index.remove(replaced);
        });
        for (let at = 0; at < chunk.length; at += INDEX_CHUNK) {
          const slice = chunk.slice(at, at + INDEX_CHUNK);
          this.applyToIndex(() => {
            this.insert(slice.map((item, i) => ({ label: labels[at + i] as number, vector: item.vector })));
          });
          if (at + INDEX_CHUNK < chunk.length) await yieldToEventLoop();
        }
        this.unsnapshotted += chunk.length;
      }
      this.maybeSnapshot();
    });
  }

  delete(ids: readonly string[]): Promise<number> {
    return settle(() => {
      this.assertOpen();
      if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
        throw new InvalidInputError('delete takes an array of id strings');
      }
      if (ids.length === 0) return 0;
      return this.serialized(() => {
        const { labels } = this.table.delete(ids);
        this.applyToIndex(() => {
          this.index.remove(labels);
        });
        this.unsnapshotted += labels.length;
        this.maybeSnapshot();
        return Promise.resolve(labels.length);
      });
    });
  }

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.writes.then(task);
    this.writes = run.catch(() => undefined);
    return run;
  }

  /**
   * The item table has committed; a failure of the index now (out of memory) leaves it behind the table.
   * Searches then refuse until the store is reopened, which catches the index up.
   */
  private applyToIndex(change: () => void): void {
    if (this.indexFailure) throw this.unavailable();
    try {
      change();
    } catch (error) {
      this.indexFailure = error as Error;
      this.logger.error('vector index update failed; reopen the store to rebuild it', { error });
      throw this.unavailable();
    }
  }

  private maybeSnapshot(): void {
    if (this.unsnapshotted < this.snapshotEvery || this.snapshotting || this.indexFailure) return;
    this.snapshotting = this.snapshotNow()
      .catch((error: unknown) => {
        // Not fatal: the item table holds every write; the next open replays from the previous snapshot.
        this.logger.warn('vector index snapshot failed', { dir: this.options.dir, error });
      })
      .finally(() => {
        this.snapshotting = undefined;
      });
  }

  /**
   * Saves the index and records the snapshot. The save takes its turn in the write queue, so no write changes
   * the index while a worker thread writes it out; searches go on. Then the file is made durable and
   * checksummed while writes resume.
   */
  private async snapshotNow(): Promise<void> {
    const started = performance.now();
    let pendingAtSave = 0;
    const manifest = await writeSnapshot(this.options.dir, (path) =>
      this.serialized(async () => {
        pendingAtSave = this.unsnapshotted;
        const captured = { seq: this.table.currentSeq(), state: this.index.state };
        await this.index.save(path);
        return captured;
      }),
    );
    await this.recordSnapshot(manifest);
    this.unsnapshotted = Math.max(0, this.unsnapshotted - pendingAtSave);
    this.logger.info('vector index snapshot saved', {
      dir: this.options.dir,
      seq: manifest.seq,
      vectors: manifest.index.live,
      ms: Math.round(performance.now() - started),
    });
  }

  private async recordSnapshot(manifest: SnapshotManifest): Promise<void> {
    const previous = this.snapshot;
    this.table.setMeta({ snapshot: JSON.stringify(manifest) });
    this.table.pruneRemovedThrough(manifest.seq);
    this.snapshot = manifest;
    if (previous && previous.file !== manifest.file)
      await removeOtherSnapshots(this.options.dir, manifest.file);
  }

  // ---- reads ---------------------------------------------------------------------------------------------

  get(ids: readonly string[]): Promise<(ItemRecord | undefined)[]> {
    return settle(() => {
      this.assertOpen();
      if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
        throw new InvalidInputError('get takes an array of id strings');
      }
      return Promise.resolve(ids.map((id) => this.table.get(id)));
    });
  }

  getVector(id: string): Promise<Float32Array | undefined> {
    return settle(() => {
      this.assertOpen();
      if (typeof id !== 'string') throw new InvalidInputError('getVector takes an id string');
      return Promise.resolve(this.table.getVector(id));
    });
  }

  count(filter?: MetadataFilter): Promise<number> {
    return settle(() => {
      this.assertOpen();
      const compiled = compileFilter(filter);
      return Promise.resolve(compiled.matchesAll ? this.table.countAll() : this.table.count(compiled.select));
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
      if (rows.length <= options.limit) return Promise.resolve({ items: rows });
      const items = rows.slice(0, options.limit);
      return Promise.resolve({ items, next: (items.at(-1) as ItemRecord).id });
    });
  }

  /**
   * Exact when the filter leaves at most `exactSearchMaxCandidates` items (or the store is that small);
   * otherwise HNSW searched `expansionSearch` deep, the filter applied to the candidates (by the item table),
   * deepening ×4 while too few pass. (Testing the filter inside the traversal, hnswlib's callback, measured
   * slower than this at every selectivity: see bench/vector-index-choice.ts.) Every page of one query is cut
   * from the same candidate list as long as offset + k stays within the first depth, so page 2 continues
   * page 1.
   */
  search(request: SearchRequest): Promise<SearchHit[]> {
    return settle(() => {
      this.assertOpen();
      checkSearchRequest(request, this.dim);
      const { vector, k, offset = 0, minScore } = request;
      if (this.indexFailure) throw this.unavailable();
      const filter = compileFilter(request.filter);
      const want = offset + k;
      // Whether the filter leaves few enough items to score them all, counted no further than that.
      const selective = filter.matchesAll
        ? this.index.size <= this.exactMax
        : this.table.labelsMatching(filter.select, this.exactMax + 1).length <= this.exactMax;
      let ranked: Scored<number>[];
      if (selective) {
        ranked = this.exactCandidates(vector, filter);
        this.options.onSearch?.({ path: 'exact', scanned: ranked.length });
      } else {
        const approximate = this.approximateCandidates(vector, filter, want, minScore);
        ranked = approximate.ranked;
        this.options.onSearch?.({ path: 'approximate', scanned: approximate.depth });
      }
      if (minScore !== undefined) ranked = ranked.filter((hit) => hit.score >= minScore);
      const page = ranked.slice(offset, want);
      const records = this.table.recordsByLabel(page.map((hit) => hit.value));
      const hits: SearchHit[] = [];
      for (const hit of page) {
        const item = records.get(hit.value);
        // Cosine of unit vectors, up to float32 rounding: an identical image must not score 1.0000000014.
        if (item) hits.push({ score: Math.min(1, Math.max(-1, hit.score)), item });
      }
      return Promise.resolve(hits);
    });
  }

  private exactCandidates(query: Float32Array, filter: CompiledFilter): Scored<number>[] {
    const scored: Scored<number>[] = [];
    for (const row of this.table.vectorsMatching(filter.select)) {
      scored.push({ score: innerProduct(query, row.vector), id: row.id, value: row.label });
    }
    return scored.sort(byScoreThenId);
  }

  private approximateCandidates(
    query: Float32Array,
    filter: CompiledFilter,
    want: number,
    minScore: number | undefined,
  ): { ranked: Scored<number>[]; depth: number } {
    let depth = this.indexOptions.expansionSearch;
    // Deeper windows come in fixed steps so that every page within a step shares one candidate list.
    while (depth <= want) depth *= 4;
    for (;;) {
      const found = this.index.search(query, depth);
      const scoreOf = new Map<number, number>();
      found.labels.forEach((label, i) => scoreOf.set(label, found.scores[i] ?? Number.NEGATIVE_INFINITY));
      // The item table has the final word: it drops what a filter excludes (and anything already deleted).
      const passing = this.table.matching(found.labels, filter.probe);
      const ranked = passing
        .map((candidate) => ({
          score: scoreOf.get(candidate.label) ?? Number.NEGATIVE_INFINITY,
          id: candidate.id,
          value: candidate.label,
        }))
        .sort(byScoreThenId);
      const exhausted = found.labels.length < depth || depth >= this.index.size;
      const lowest = found.scores[found.scores.length - 1];
      const belowMinScore = minScore !== undefined && lowest !== undefined && lowest < minScore;
      // A margin of candidates beyond the page: the last items of an approximate list are its least sure.
      if (ranked.length >= CANDIDATE_MARGIN * want || exhausted || belowMinScore) return { ranked, depth };
      // Deepen, by whole steps, to where the pass rate seen so far would give that margin.
      const needed = (CANDIDATE_MARGIN * want * found.labels.length) / Math.max(ranked.length, 1);
      do depth *= 4;
      while (depth < needed && depth < this.index.size);
    }
  }

  /**
   * Checks that the index holds exactly the item table: every item under its label with the same vector,
   * nothing else live. What a crash must never break. Reads every vector: for diagnostics and tests, not for
   * a health probe.
   */
  checkIntegrity(): Promise<{
    readonly items: number;
    readonly indexed: number;
    readonly missing: number;
    readonly mismatched: number;
  }> {
    return settle(() => {
      this.assertOpen();
      let items = 0;
      let missing = 0;
      let mismatched = 0;
      for (const page of this.table.vectorPages(OPEN_CHUNK)) {
        for (const { label, vector } of page) {
          const indexed = this.index.vectorOf(label);
          if (indexed === undefined) missing++;
          else if (indexed.some((x, i) => x !== vector[i])) mismatched++;
        }
        items += page.length;
      }
      return { items, indexed: this.index.size, missing, mismatched };
    });
  }

  // ---- health and lifecycle ------------------------------------------------------------------------------

  health(): Promise<{ readonly ok: boolean; readonly detail?: string }> {
    if (this.closed) return Promise.resolve({ ok: false, detail: 'closed' });
    if (this.indexFailure)
      return Promise.resolve({ ok: false, detail: `index update failed: ${this.indexFailure.message}` });
    try {
      const items = this.table.countAll();
      const detail = `${items} items, ${this.index.size} indexed, ${this.unsnapshotted} changes since the index snapshot`;
      return Promise.resolve({ ok: true, detail });
    } catch (error) {
      return Promise.resolve({ ok: false, detail: (error as Error).message });
    }
  }

  /** Waits for pending writes, saves a snapshot of what changed since the last one, and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes;
    await this.snapshotting;
    if (this.unsnapshotted > 0 && !this.indexFailure) {
      try {
        await this.snapshotNow();
      } catch (error) {
        this.logger.warn('vector index snapshot at close failed; the next open replays', { error });
      }
    }
    this.table.close();
  }

  // ---- validation ----------------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new BackendUnavailableError('the vector store is closed');
  }

  private unavailable(): BackendUnavailableError {
    return new BackendUnavailableError(
      'the vector index failed to update; reopen the store to rebuild it',
      5,
      {
        cause: this.indexFailure,
      },
    );
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

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidInputError(`${name} must be a positive integer`);
  return value;
}

function* batches<T>(source: Iterable<T>, size: number): Generator<T[]> {
  let batch: T[] = [];
  for (const item of source) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
