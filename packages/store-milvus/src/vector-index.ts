import type { IndexSettings, MilvusMetric } from './milvus-store-options';

/**
 * The vector index: what a new collection is given, what an existing one has, and the search
 * parameters that go with it.
 */

/** Milvus refuses a search whose offset + limit exceeds this. */
export const MILVUS_MAX_WINDOW = 16_384;

/**
 * The depths searches ask Milvus for: the first, then ×4 up to MILVUS_MAX_WINDOW. A page is cut from the
 * smallest depth holding it, so every page within one depth comes from the same candidate list (an ANN
 * index asked for more candidates may rank the first ones differently), and page 2 continues page 1.
 */
const FIRST_WINDOW = 128;

export function windowFor(wanted: number): number {
  let window = FIRST_WINDOW;
  while (window < wanted) window *= 4;
  return Math.min(window, MILVUS_MAX_WINDOW);
}

/** The next depth after `window`, or undefined at Milvus's limit. */
export function deeperWindow(window: number): number | undefined {
  return window >= MILVUS_MAX_WINDOW ? undefined : Math.min(window * 4, MILVUS_MAX_WINDOW);
}

/** The index as Milvus describes it. */
export interface IndexInUse {
  readonly type: string;
  readonly metric: string;
}

/** createIndex's parameters for a new collection. */
export function indexParams(
  index: IndexSettings,
  metric: MilvusMetric,
): {
  index_type: string;
  metric_type: string;
  params: Record<string, number>;
} {
  switch (index.type) {
    case 'HNSW':
      return {
        index_type: index.type,
        metric_type: metric,
        params: { M: index.M, efConstruction: index.efConstruction },
      };
    case 'IVF_FLAT':
    case 'IVF_SQ8':
      return { index_type: index.type, metric_type: metric, params: { nlist: index.nlist } };
    case 'IVF_PQ':
      return {
        index_type: index.type,
        metric_type: metric,
        params: { nlist: index.nlist, m: index.m, nbits: 8 },
      };
  }
}

/** The index of describeIndex's `params` (key-value pairs). */
export function indexInUse(params: readonly { readonly key: string; readonly value: string }[]): IndexInUse {
  const value = (key: string): string | undefined => params.find((param) => param.key === key)?.value;
  return { type: value('index_type') ?? 'unknown', metric: value('metric_type') ?? 'IP' };
}

/** The search parameters for `index` asked for `window` results, tuned by the configured settings. */
export function searchParams(
  index: IndexInUse,
  settings: IndexSettings,
  window: number,
): Record<string, number> {
  if (index.type === 'HNSW') return { ef: Math.max(settings.type === 'HNSW' ? settings.ef : 128, window) };
  if (index.type.startsWith('IVF')) return { nprobe: settings.type === 'HNSW' ? 32 : settings.nprobe };
  return {};
}
