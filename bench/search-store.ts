/**
 * The embedded vector store on its own: a 100k × 512 store of seeded vectors (built once into a directory and
 * reused by later runs), and its search latency and recall@10 against brute force, unfiltered and with
 * filters of several selectivities. `pnpm bench search` combines these with the HTTP measurements.
 *
 *   pnpm bench search-store [--dir DIR] [--count 100000] [--queries 200]
 */
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import {
  type EmbeddedVectorStore,
  openEmbeddedVectorStore,
  type SearchPlan,
} from '@clip-search/store-embedded';
import { type MetadataFilter, type VectorItem } from '@clip-search/contracts';
import { exactTopK, lowRankUnitVectors, quantile, recall, rowOf } from '@clip-search/contracts/testing';

export const BENCH_MODEL_ID = 'bench-low-rank-512';
export const BENCH_DIM = 512;
const ITEM_SEED = 1;
const QUERY_SEED = 2;
const BATCH = 1_000;

export interface BenchStoreOptions {
  readonly dir: string;
  /** The model id stamped on the store and its items (a gateway opens it only with that model). */
  readonly modelId?: string;
  readonly count?: number;
  readonly log?: (line: string) => void;
}

export function benchItemId(row: number): string {
  return `bench-${String(row).padStart(7, '0')}`;
}

/**
 * Metadata that gives filters of known selectivity: `shard` keeps 10% per value, `bucket` 1%, `cell` 0.1%,
 * and the URI sits in one of ten folders (`file:///bench/f3/…` keeps 10% by prefix).
 */
export function benchItem(row: number, vector: Float32Array, modelId = BENCH_MODEL_ID): VectorItem {
  return {
    id: benchItemId(row),
    uri: `file:///bench/f${row % 10}/${row}.jpg`,
    contentHash: `sha256:${row}`,
    width: 640,
    height: 480,
    modelId,
    ingestedAt: '2026-01-01T00:00:00.000Z',
    metadata: { shard: row % 10, bucket: row % 100, cell: row % 1_000 },
    vector,
  };
}

/** The vectors of the bench store, regenerated from their seed (for exact answers). */
export function benchVectors(count: number): Float32Array {
  return lowRankUnitVectors(count, BENCH_DIM, ITEM_SEED);
}

export function benchQueries(count: number): Float32Array {
  return lowRankUnitVectors(count, BENCH_DIM, QUERY_SEED);
}

export function openBenchStore(
  dir: string,
  onSearch?: (plan: SearchPlan) => void,
  modelId = BENCH_MODEL_ID,
): Promise<EmbeddedVectorStore> {
  return openEmbeddedVectorStore({
    dir,
    dim: BENCH_DIM,
    modelId,
    ...(onSearch ? { onSearch } : {}),
  });
}

/**
 * Makes sure `dir` holds the bench store of `count` items, building it (single-threaded HNSW inserts: minutes
 * for 100k) only when it is absent or of another size. Returns whether it was built and how long that took.
 */
export async function ensureBenchStore(
  options: BenchStoreOptions,
): Promise<{ readonly built: boolean; readonly seconds: number }> {
  const count = options.count ?? 100_000;
  const modelId = options.modelId ?? BENCH_MODEL_ID;
  const log = options.log ?? ((): void => undefined);
  if (existsSync(options.dir)) {
    const existing = await openBenchStore(options.dir, undefined, modelId);
    const stored = await existing.count();
    await existing.close();
    if (stored === count) return { built: false, seconds: 0 };
    log(`bench store in ${options.dir} has ${stored} items, rebuilding it with ${count}`);
    rmSync(options.dir, { recursive: true, force: true });
  }
  const started = performance.now();
  const vectors = benchVectors(count);
  const store = await openBenchStore(options.dir, undefined, modelId);
  try {
    for (let start = 0; start < count; start += BATCH) {
      const items: VectorItem[] = [];
      for (let row = start; row < Math.min(count, start + BATCH); row++)
        items.push(benchItem(row, rowOf(vectors, BENCH_DIM, row), modelId));
      await store.upsert(items);
      if ((start / BATCH) % 10 === 9) log(`  ${start + BATCH} of ${count} items stored`);
    }
  } finally {
    await store.close();
  }
  return { built: true, seconds: (performance.now() - started) / 1e3 };
}

export interface SearchMeasurement {
  readonly label: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly recallAt10: number;
  readonly path: string;
}

/** Filters of decreasing selectivity, with the rows each keeps (for the exact answer). */
export const BENCH_FILTERS: readonly {
  readonly label: string;
  readonly filter?: MetadataFilter;
  readonly keeps?: (row: number) => boolean;
}[] = [
  { label: 'no filter' },
  {
    label: 'uri prefix, keeps 10%',
    filter: { uri: { prefix: 'file:///bench/f3/' } },
    keeps: (r) => r % 10 === 3,
  },
  { label: 'shard = 3, keeps 10%', filter: { shard: 3 }, keeps: (r) => r % 10 === 3 },
  { label: 'bucket = 42, keeps 1%', filter: { bucket: 42 }, keeps: (r) => r % 100 === 42 },
  { label: 'cell = 7, keeps 0.1%', filter: { cell: 7 }, keeps: (r) => r % 1_000 === 7 },
];

/**
 * Latency of `store.search` (k = 10, one query at a time) over `queryCount` queries per filter, and recall@10
 * against brute force over the first `recallQueries` of them.
 */
export async function measureStoreSearch(
  dir: string,
  options: {
    readonly count: number;
    readonly queryCount: number;
    readonly recallQueries?: number;
    readonly modelId?: string;
  },
): Promise<{ readonly openSeconds: number; readonly results: SearchMeasurement[] }> {
  const recallQueries = Math.min(options.recallQueries ?? 50, options.queryCount);
  const vectors = benchVectors(options.count);
  const queries = benchQueries(options.queryCount);
  const plans: SearchPlan[] = [];
  const opened = performance.now();
  const store = await openBenchStore(dir, (plan) => plans.push(plan), options.modelId);
  const openSeconds = (performance.now() - opened) / 1e3;
  try {
    const results: SearchMeasurement[] = [];
    for (const { label, filter, keeps } of BENCH_FILTERS) {
      const samples: number[] = [];
      let recallSum = 0;
      plans.length = 0;
      for (let q = 0; q < options.queryCount; q++) {
        const query = rowOf(queries, BENCH_DIM, q);
        const started = performance.now();
        const hits = await store.search({ vector: query, k: 10, ...(filter ? { filter } : {}) });
        samples.push(performance.now() - started);
        if (q < recallQueries) {
          const truth = exactTopK(vectors, BENCH_DIM, query, 10, keeps).map(benchItemId);
          recallSum += recall(
            hits.map((h) => h.item.id),
            truth,
          );
        }
      }
      const paths = [...new Set(plans.map((p) => p.path))].join('+');
      results.push({
        label,
        p50Ms: quantile(samples, 0.5),
        p99Ms: quantile(samples, 0.99),
        recallAt10: recallSum / recallQueries,
        path: paths,
      });
    }
    return { openSeconds, results };
  } finally {
    await store.close();
  }
}

export function searchTable(results: readonly SearchMeasurement[]): string {
  return [
    '| search (k=10) | path | p50 ms | p99 ms | recall@10 |',
    '|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.label} | ${r.path} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.recallAt10.toFixed(3)} |`,
    ),
  ].join('\n');
}

export default async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string', default: join(tmpdir(), 'clip-search-bench-store') },
      count: { type: 'string', default: '100000' },
      queries: { type: 'string', default: '200' },
    },
  });
  const count = Number(values.count);
  const log = (line: string): void => {
    console.error(line);
  };
  const build = await ensureBenchStore({ dir: values.dir, count, log });
  if (build.built)
    console.log(`built ${count} × ${BENCH_DIM} in ${build.seconds.toFixed(1)} s (${values.dir})`);
  const { openSeconds, results } = await measureStoreSearch(values.dir, {
    count,
    queryCount: Number(values.queries),
  });
  console.log(`opened in ${openSeconds.toFixed(2)} s (index snapshot load + replay)\n`);
  console.log(searchTable(results));
}
