import { InvalidInputError } from '@clip-search/contracts';
import type { Logger } from '@clip-search/platform';
import type { AnnIndexOptions } from './ann-index';
import type { SearchPlan } from './search-planner';

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

/** The tuning options of a store, defaults filled in. */
export interface StoreSettings {
  readonly index: AnnIndexOptions;
  readonly exactMax: number;
  readonly snapshotEvery: number;
}

/** Fills in the defaults; refuses, with InvalidInputError, a tuning option that is not a positive integer. */
export function storeSettings(options: EmbeddedVectorStoreOptions): StoreSettings {
  const index: AnnIndexOptions = {
    dim: options.dim,
    connectivity: positiveInteger(options.connectivity, 16, 'connectivity'),
    expansionAdd: positiveInteger(options.expansionAdd, 128, 'expansionAdd'),
    expansionSearch: positiveInteger(options.expansionSearch, 128, 'expansionSearch'),
  };
  return {
    index,
    exactMax: positiveInteger(options.exactSearchMaxCandidates, 2_048, 'exactSearchMaxCandidates'),
    snapshotEvery: positiveInteger(options.snapshotEvery, 10_000, 'snapshotEvery'),
  };
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidInputError(`${name} must be a positive integer`);
  return value;
}
