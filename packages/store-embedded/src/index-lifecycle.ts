import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

import { BackendUnavailableError } from '@clip-search/contracts';
import type { Logger } from '@clip-search/platform';
import { AnnIndex, type AnnIndexOptions } from './ann-index';
import {
  checkSnapshot,
  parseManifest,
  removeOtherSnapshots,
  type SnapshotManifest,
  writeSnapshot,
} from './index-snapshot';
import type { ItemTable, LabelledVector } from './item-table';
import type { WriteQueue } from './write-queue';

/** Vectors read per page when rebuilding or catching up the index at open… */
const OPEN_CHUNK = 8_192;
/** …and inserted between yields to the event loop. */
const OPEN_STEP = 256;
/**
 * Deleted (and replaced) items stay in the graph as routing nodes until a rebuild: one happens at open once
 * the graph has more than this many nodes per live item.
 */
const COMPACT_ABOVE = 2;

export interface IndexLifecycleParts {
  /** The store's directory, where the snapshots live. */
  readonly dir: string;
  readonly table: ItemTable;
  /** The store's write queue: a snapshot is saved in its turn there. */
  readonly writes: WriteQueue;
  readonly indexOptions: AnnIndexOptions;
  /** Save a snapshot once this many items changed since the last one. */
  readonly snapshotEvery: number;
  readonly logger: Logger;
}

/**
 * The HNSW index over the item table, from open to close: loaded from its snapshot and caught up with the
 * writes made after it (or rebuilt from the table), kept in step with each committed write, snapshotted
 * every `snapshotEvery` changes and once more at close. The item table is the truth and the index follows
 * it; once it fails to follow, searches refuse until the store is reopened.
 */
export class IndexLifecycle {
  private current: AnnIndex;
  /** Items changed since the recorded snapshot. */
  private unsnapshotted = 0;
  private snapshot: SnapshotManifest | undefined;
  private snapshotting: Promise<void> | undefined;
  private updateFailure: Error | undefined;
  private readonly dir: string;
  private readonly table: ItemTable;
  private readonly writes: WriteQueue;
  private readonly indexOptions: AnnIndexOptions;
  private readonly snapshotEvery: number;
  private readonly logger: Logger;

  constructor(parts: IndexLifecycleParts) {
    this.dir = parts.dir;
    this.table = parts.table;
    this.writes = parts.writes;
    this.indexOptions = parts.indexOptions;
    this.snapshotEvery = parts.snapshotEvery;
    this.logger = parts.logger;
    this.current = AnnIndex.create(this.indexOptions);
  }

  /** The index as it is now (a load or rebuild replaces it). */
  get index(): AnnIndex {
    return this.current;
  }

  /** Items changed since the recorded snapshot. */
  get changesSinceSnapshot(): number {
    return this.unsnapshotted;
  }

  /** Why the index fell behind the item table, if it did. */
  get failure(): Error | undefined {
    return this.updateFailure;
  }

  // ---- opening -------------------------------------------------------------------------------------------

  /** Brings the index up to the item table: snapshot + replay, or a full rebuild. */
  async load(): Promise<void> {
    const manifest = parseManifest(this.table.getMeta('snapshot'));
    const expected = this.table.countAll();
    let loaded = false;
    if (manifest) {
      const problem = await this.tryLoadSnapshot(manifest);
      const { nodes } = this.current.state;
      if (
        problem === undefined &&
        this.current.size === expected &&
        nodes <= COMPACT_ABOVE * expected + OPEN_CHUNK
      ) {
        loaded = true;
        this.snapshot = manifest;
      } else {
        this.logger.warn('vector index snapshot unusable, rebuilding from the item table', {
          dir: this.dir,
          reason:
            problem ??
            (this.current.size === expected
              ? `compacting: ${nodes} nodes for ${expected} items`
              : `index holds ${this.current.size} vectors after catching up, the table ${expected}`),
        });
      }
    }
    if (!loaded) {
      await this.rebuild();
      // A rebuild is the slow path: save it so that the next open is fast.
      if (this.current.size > 0) await this.snapshotNow();
    }
    await removeOtherSnapshots(this.dir, this.snapshot?.file);
  }

  private async tryLoadSnapshot(manifest: SnapshotManifest): Promise<string | undefined> {
    const problem = await checkSnapshot(this.dir, manifest);
    if (problem !== undefined) return problem;
    try {
      this.current = AnnIndex.load(join(this.dir, manifest.file), this.indexOptions, manifest.index);
    } catch (error) {
      this.current = AnnIndex.create(this.indexOptions);
      return `cannot load ${manifest.file}: ${(error as Error).message}`;
    }
    const started = performance.now();
    const removed = this.table.removedSince(manifest.seq);
    this.current.remove(removed);
    let changed = 0;
    for (const batch of batches(this.table.changedSince(manifest.seq), OPEN_CHUNK)) {
      await this.insertInSteps(batch);
      changed += batch.length;
    }
    this.unsnapshotted = changed + removed.length;
    this.logger.info('vector index loaded from snapshot', {
      dir: this.dir,
      vectors: this.current.size,
      replayedUpserts: changed,
      replayedDeletes: removed.length,
      replayMs: Math.round(performance.now() - started),
    });
    return undefined;
  }

  private async rebuild(): Promise<void> {
    const started = performance.now();
    const total = this.table.countAll();
    this.current = AnnIndex.create(this.indexOptions);
    this.snapshot = undefined;
    for (const page of this.table.vectorPages(OPEN_CHUNK)) {
      await this.insertInSteps(page);
      if (total > OPEN_CHUNK) {
        this.logger.info('rebuilding vector index', { dir: this.dir, done: this.current.size, total });
      }
    }
    this.unsnapshotted = 0;
    this.logger.info('vector index rebuilt from the item table', {
      dir: this.dir,
      vectors: this.current.size,
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
    const { dim } = this.indexOptions;
    const labels = items.map((item) => item.label);
    const packed = new Float32Array(items.length * dim);
    items.forEach((item, row) => {
      packed.set(item.vector, row * dim);
    });
    this.current.add(labels, packed);
  }

  // ---- following the writes ------------------------------------------------------------------------------

  /** Adds vectors the item table has committed under these labels. */
  add(items: readonly LabelledVector[]): void {
    this.follow(() => {
      this.insert(items);
    });
  }

  /** Removes labels the item table has committed the removal (or replacement) of. */
  remove(labels: readonly number[]): void {
    this.follow(() => {
      this.current.remove(labels);
    });
  }

  /** Counts items changed since the last snapshot (see snapshotIfDue). */
  changed(items: number): void {
    this.unsnapshotted += items;
  }

  /** Refuses, with BackendUnavailableError, once the index has fallen behind the item table. */
  assertUpToDate(): void {
    if (this.updateFailure) throw this.unavailable();
  }

  /**
   * The item table has committed; a failure of the index now (out of memory) leaves it behind the table.
   * Searches then refuse until the store is reopened, which catches the index up.
   */
  private follow(change: () => void): void {
    this.assertUpToDate();
    try {
      change();
    } catch (error) {
      this.updateFailure = error as Error;
      this.logger.error('vector index update failed; reopen the store to rebuild it', { error });
      throw this.unavailable();
    }
  }

  private unavailable(): BackendUnavailableError {
    return new BackendUnavailableError(
      'the vector index failed to update; reopen the store to rebuild it',
      5,
      {
        cause: this.updateFailure,
      },
    );
  }

  // ---- snapshots -----------------------------------------------------------------------------------------

  /** Starts saving a snapshot in the background once `snapshotEvery` items changed since the last one. */
  snapshotIfDue(): void {
    if (this.unsnapshotted < this.snapshotEvery || this.snapshotting || this.updateFailure) return;
    this.snapshotting = this.snapshotNow()
      .catch((error: unknown) => {
        // Not fatal: the item table holds every write; the next open replays from the previous snapshot.
        this.logger.warn('vector index snapshot failed', { dir: this.dir, error });
      })
      .finally(() => {
        this.snapshotting = undefined;
      });
  }

  /**
   * Waits for a snapshot under way, then saves one of what changed since the last (unless the index fell
   * behind the table: the next open replays or rebuilds). Call once no more writes come.
   */
  async saveBeforeClose(): Promise<void> {
    await this.snapshotting;
    if (this.unsnapshotted > 0 && !this.updateFailure) {
      try {
        await this.snapshotNow();
      } catch (error) {
        this.logger.warn('vector index snapshot at close failed; the next open replays', { error });
      }
    }
  }

  /**
   * Saves the index and records the snapshot. The save takes its turn in the write queue, so no write changes
   * the index while a worker thread writes it out; searches go on. Then the file is made durable and
   * checksummed while writes resume.
   */
  private async snapshotNow(): Promise<void> {
    const started = performance.now();
    let pendingAtSave = 0;
    const manifest = await writeSnapshot(this.dir, (path) =>
      this.writes.run(async () => {
        pendingAtSave = this.unsnapshotted;
        const captured = { seq: this.table.currentSeq(), state: this.current.state };
        await this.current.save(path);
        return captured;
      }),
    );
    await this.recordSnapshot(manifest);
    this.unsnapshotted = Math.max(0, this.unsnapshotted - pendingAtSave);
    this.logger.info('vector index snapshot saved', {
      dir: this.dir,
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
    if (previous && previous.file !== manifest.file) await removeOtherSnapshots(this.dir, manifest.file);
  }
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
