/**
 * Which ANN library backs the embedded vector store: usearch (HNSW) or hnswlib-node (HNSW), on the same
 * seeded data with the same graph parameters, one thread for queries.
 *
 *   pnpm bench vector-index-choice [--n 100000] [--dim 512] [--queries 1000] [--data low-rank|uniform]
 *
 * The machines are shared (2 cores, other jobs running), so the two libraries are measured interleaved in
 * one process: each build step, each query, goes to one library then the other (alternating which goes
 * first), and whatever else loads the machine loads both alike. Prints a Markdown table; recall@10 is graded
 * against a brute-force scan of the same vectors.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

// Both libraries are dependencies of the bench package for this comparison; in the product only
// packages/store-embedded imports one, hnswlib-node (ESLint keeps backend clients in adapter packages).
import hnswlib from 'hnswlib-node';
import usearch, { type Index as UsearchIndex } from 'usearch';

import {
  exactTopK,
  lowRankUnitVectors,
  quantile,
  randomUnitVectors,
  recall,
  rowOf,
} from '@clip-search/contracts/testing';

/** `low-rank`: structured like real embeddings (see lowRankUnitVectors); `uniform`: the worst case. */
type Data = 'low-rank' | 'uniform';
const DATA: readonly Data[] = ['low-rank', 'uniform'];

const CONNECTIVITY = 16; // M
const EXPANSION_ADD = 128; // efConstruction
const EF_SEARCH = [64, 128, 256] as const;
const K = 10;
const RECALL_QUERIES = 100;
const BUILD_STEP = 1_000;
const SELECTIVITIES = [0.1, 0.01] as const;

/** The operations both libraries offer, so one measuring routine drives either. */
interface Contender {
  readonly name: string;
  readonly filterMechanism: string;
  init(capacity: number): void;
  add(vectors: Float32Array, firstLabel: number, threads: number): void;
  setEf(ef: number): void;
  search(query: Float32Array, k: number): number[];
  searchFiltered(
    query: Float32Array,
    k: number,
    accept: (label: number) => boolean,
    selectivity: number,
  ): number[];
  remove(labels: readonly number[]): void;
  save(path: string): void;
  load(path: string): void;
}

function usearchContender(dim: number): Contender {
  let ef: number = EF_SEARCH[0];
  const make = (): UsearchIndex =>
    new usearch.Index({
      dimensions: dim,
      metric: usearch.MetricKind.IP,
      quantization: usearch.ScalarKind.F32,
      connectivity: CONNECTIVITY,
      expansion_add: EXPANSION_ADD,
      expansion_search: ef,
      multi: false,
    });
  let index = make();
  const search = (query: Float32Array, k: number): number[] =>
    Array.from(index.search(query, k, 1).keys, Number);
  return {
    name: 'usearch',
    filterMechanism: 'none in the JS binding: oversample k×2/selectivity, post-filter',
    init() {
      index = make();
    },
    add(vectors, firstLabel, threads) {
      const count = vectors.length / dim;
      index.add(
        BigUint64Array.from({ length: count }, (_, i) => BigInt(firstLabel + i)),
        vectors,
        threads,
      );
    },
    setEf(value) {
      // usearch takes expansion_search at construction only: save and reload under the new value.
      ef = value;
      const path = join(tmpdir(), `ef-${process.pid}.usearch`);
      index.save(path);
      index = make();
      index.load(path);
      rmSync(path);
    },
    search,
    searchFiltered(query, k, accept, selectivity) {
      return search(query, Math.ceil((k * 2) / selectivity))
        .filter(accept)
        .slice(0, k);
    },
    remove(labels) {
      index.remove(BigUint64Array.from(labels, (l) => BigInt(l)));
    },
    save(path) {
      index.save(path);
    },
    load(path) {
      index = make();
      index.load(path);
    },
  };
}

function hnswlibContender(dim: number): Contender {
  let index = new hnswlib.HierarchicalNSW('ip', dim);
  let ef: number = EF_SEARCH[0];
  return {
    name: 'hnswlib-node',
    filterMechanism: 'native callback per visited label',
    init(capacity) {
      index = new hnswlib.HierarchicalNSW('ip', dim);
      index.initIndex(capacity, CONNECTIVITY, EXPANSION_ADD, 100);
    },
    add(vectors, firstLabel, threads) {
      if (threads !== 1) throw new Error('hnswlib-node adds from one thread only');
      // The binding takes plain arrays only: the copy is part of the cost of using it.
      for (let i = 0; i < vectors.length / dim; i++)
        index.addPoint(Array.from(rowOf(vectors, dim, i)), firstLabel + i);
    },
    setEf(value) {
      ef = value;
      index.setEf(value);
    },
    search(query, k) {
      return index.searchKnn(Array.from(query), k).neighbors;
    },
    searchFiltered(query, k, accept) {
      return index.searchKnn(Array.from(query), k, accept).neighbors;
    },
    remove(labels) {
      for (const label of labels) index.markDelete(label);
    },
    save(path) {
      index.writeIndexSync(path);
    },
    load(path) {
      index = new hnswlib.HierarchicalNSW('ip', dim);
      index.readIndexSync(path);
      index.setEf(ef);
    },
  };
}

interface Tally {
  buildSeconds: number;
  rssMiB: number;
  search: { ef: number; samples: number[]; recall: number }[];
  filtered: { selectivity: number; samples: number[]; recall: number }[];
  deleteSeconds: number;
  deletedReturned: number;
  recallAfterDelete: number;
  saveSeconds: number;
  fileMiB: number;
  loadSeconds: number;
  truncatedFile: string;
}

function elapsed<T>(run: () => T): [T, number] {
  const start = process.hrtime.bigint();
  const result = run();
  return [result, Number(process.hrtime.bigint() - start) / 1e9];
}

/** Calls `run` for each contender, alternating which goes first so neither always meets a warm or cold cache. */
function interleaved(
  contenders: readonly Contender[],
  turn: number,
  run: (c: Contender, i: number) => void,
): void {
  const order =
    turn % 2 === 0 ? contenders.map((_, i) => i) : contenders.map((_, i) => contenders.length - 1 - i);
  for (const i of order) run(contenders[i]!, i);
}

function measure(
  data: Data,
  n: number,
  dim: number,
  queryCount: number,
): { contenders: Contender[]; tallies: Tally[]; twoThreads: string } {
  const generate = (count: number, seed: number): Float32Array =>
    data === 'uniform' ? randomUnitVectors(count, dim, seed) : lowRankUnitVectors(count, dim, seed);
  const vectors = generate(n, 1);
  const queries = generate(RECALL_QUERIES, 2);
  const query = (i: number): Float32Array => rowOf(queries, dim, i % RECALL_QUERIES);
  const truth = Array.from({ length: RECALL_QUERIES }, (_, i) => exactTopK(vectors, dim, query(i), K));
  const contenders = [usearchContender(dim), hnswlibContender(dim)];
  const tallies: Tally[] = contenders.map(() => ({
    buildSeconds: 0,
    rssMiB: 0,
    search: [],
    filtered: [],
    deleteSeconds: 0,
    deletedReturned: 0,
    recallAfterDelete: 0,
    saveSeconds: 0,
    fileMiB: 0,
    loadSeconds: 0,
    truncatedFile: '',
  }));

  for (const c of contenders) c.init(n);
  for (let from = 0, turn = 0; from < n; from += BUILD_STEP, turn++) {
    const step = vectors.subarray(from * dim, Math.min(n, from + BUILD_STEP) * dim);
    interleaved(contenders, turn, (c, i) => {
      const rss = process.memoryUsage().rss;
      const [, seconds] = elapsed(() => {
        c.add(step, from, 1);
      });
      tallies[i]!.buildSeconds += seconds;
      tallies[i]!.rssMiB += (process.memoryUsage().rss - rss) / 2 ** 20;
    });
    if (turn % 10 === 9) console.error(`  built ${from + BUILD_STEP} of ${n}`);
  }

  for (const ef of EF_SEARCH) {
    for (const c of contenders) c.setEf(ef);
    const found: number[][][] = contenders.map(() => []);
    const samples: number[][] = contenders.map(() => []);
    for (let q = 0; q < queryCount; q++) {
      interleaved(contenders, q, (c, i) => {
        const [result, seconds] = elapsed(() => c.search(query(q), K));
        samples[i]!.push(seconds * 1e3);
        if (q < RECALL_QUERIES) found[i]!.push(result);
      });
    }
    contenders.forEach((_, i) => {
      const r = found[i]!.reduce((sum, f, q) => sum + recall(f, truth[q]!), 0) / RECALL_QUERIES;
      tallies[i]!.search.push({ ef, samples: samples[i]!, recall: r });
    });
  }

  for (const c of contenders) c.setEf(128);
  for (const selectivity of SELECTIVITIES) {
    const modulo = Math.round(1 / selectivity);
    const accept = (label: number): boolean => label % modulo === 0;
    const filteredTruth = Array.from({ length: RECALL_QUERIES }, (_, q) =>
      exactTopK(vectors, dim, query(q), K, accept),
    );
    const found: number[][][] = contenders.map(() => []);
    const samples: number[][] = contenders.map(() => []);
    for (let q = 0; q < queryCount; q++) {
      interleaved(contenders, q, (c, i) => {
        const [result, seconds] = elapsed(() => c.searchFiltered(query(q), K, accept, selectivity));
        samples[i]!.push(seconds * 1e3);
        if (q < RECALL_QUERIES) found[i]!.push(result);
      });
    }
    contenders.forEach((_, i) => {
      const r = found[i]!.reduce((sum, f, q) => sum + recall(f, filteredTruth[q]!), 0) / RECALL_QUERIES;
      tallies[i]!.filtered.push({ selectivity, samples: samples[i]!, recall: r });
    });
  }

  const dir = mkdtempSync(join(tmpdir(), 'index-choice-'));
  try {
    contenders.forEach((c, i) => {
      const path = join(dir, `${c.name}.bin`);
      const tally = tallies[i]!;
      tally.saveSeconds = elapsed(() => {
        c.save(path);
      })[1];
      tally.fileMiB = statSync(path).size / 2 ** 20;
      tally.loadSeconds = elapsed(() => {
        c.load(path);
      })[1];
      const truncated = join(dir, `${c.name}.truncated`);
      writeFileSync(truncated, readFileSync(path).subarray(0, Math.floor(statSync(path).size * 0.6)));
      try {
        c.load(truncated);
        tally.truncatedFile = 'loads without error (!)';
      } catch (error) {
        tally.truncatedFile = `throws "${(error as Error).message}"`;
      }
      c.load(path);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const removed = Array.from({ length: Math.floor(n / 10) }, (_, i) => i * 10);
  const alive = (row: number): boolean => row % 10 !== 0;
  interleaved(contenders, 0, (c, i) => {
    tallies[i]!.deleteSeconds = elapsed(() => {
      c.remove(removed);
    })[1];
  });
  for (let q = 0; q < RECALL_QUERIES; q++) {
    const aliveTruth = exactTopK(vectors, dim, query(q), K, alive);
    interleaved(contenders, q, (c, i) => {
      const found = c.search(query(q), K);
      tallies[i]!.deletedReturned += found.filter((label) => !alive(label)).length;
      tallies[i]!.recallAfterDelete += recall(found, aliveTruth) / RECALL_QUERIES;
    });
  }

  // usearch alone can insert from several threads: its speed-up on this machine's two cores.
  const sample = vectors.subarray(0, Math.min(n, 20_000) * dim);
  const threads = [1, 2].map(() => 0);
  for (let turn = 0; turn < 2; turn++) {
    for (const t of turn === 0 ? [1, 2] : [2, 1]) {
      const c = usearchContender(dim);
      c.init(0);
      threads[t - 1]! += elapsed(() => {
        c.add(sample, 0, t);
      })[1];
    }
  }
  const twoThreads = `${(threads[0]! / threads[1]!).toFixed(2)}× faster with 2 threads (${sample.length / dim} vectors)`;
  return { contenders, tallies, twoThreads };
}

function table(contenders: readonly Contender[], tallies: readonly Tally[], twoThreads: string): string {
  const f = (x: number, digits = 2): string => x.toFixed(digits);
  const latency = (samples: readonly number[]): string =>
    `${f(quantile(samples, 0.5))} / ${f(quantile(samples, 0.99))}`;
  const rows: [string, ...string[]][] = [
    ['build, 1 thread (s)', ...tallies.map((t) => f(t.buildSeconds, 1))],
    ['multi-threaded insert', twoThreads, 'no'],
    ['RSS growth while building (MiB)', ...tallies.map((t) => f(t.rssMiB, 0))],
  ];
  for (const [j, ef] of EF_SEARCH.entries()) {
    rows.push([
      `ef=${ef}: p50 / p99 ms, recall@10`,
      ...tallies.map((t) => `${latency(t.search[j]!.samples)}, ${f(t.search[j]!.recall, 3)}`),
    ]);
  }
  for (const [j, selectivity] of SELECTIVITIES.entries()) {
    rows.push([
      `filter keeping ${selectivity * 100}%, ef=128: p50 / p99 ms, recall@10`,
      ...tallies.map((t) => `${latency(t.filtered[j]!.samples)}, ${f(t.filtered[j]!.recall, 3)}`),
    ]);
  }
  rows.push(['filter mechanism', ...contenders.map((c) => c.filterMechanism)]);
  rows.push([
    'delete 10%: s, deleted returned, recall@10 after',
    ...tallies.map((t) => `${f(t.deleteSeconds, 3)}, ${t.deletedReturned}, ${f(t.recallAfterDelete, 3)}`),
  ]);
  rows.push(['save s / file MiB', ...tallies.map((t) => `${f(t.saveSeconds)} / ${f(t.fileMiB, 0)}`)]);
  rows.push(['load s', ...tallies.map((t) => f(t.loadSeconds))]);
  rows.push(['load of a file cut to 60%', ...tallies.map((t) => t.truncatedFile)]);
  const header = `| | ${contenders.map((c) => c.name).join(' | ')} |\n|---|${contenders.map(() => '---').join('|')}|`;
  return [header, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

export default function main(args: string[]): void {
  const { values } = parseArgs({
    args,
    options: {
      n: { type: 'string', default: '100000' },
      dim: { type: 'string', default: '512' },
      queries: { type: 'string', default: '1000' },
      data: { type: 'string', default: 'low-rank' },
    },
  });
  const n = Number(values.n);
  const dim = Number(values.dim);
  const data = DATA.find((d) => d === values.data);
  if (!data) throw new Error(`--data must be one of ${DATA.join(', ')}`);
  console.error(`measuring usearch and hnswlib-node, interleaved (${n} × ${dim}, ${data})…`);
  const { contenders, tallies, twoThreads } = measure(data, n, dim, Number(values.queries));
  console.log(
    `${n} × ${dim} ${data} unit vectors, M=${CONNECTIVITY}, efConstruction=${EXPANSION_ADD}, k=${K}, ` +
      `${RECALL_QUERIES} recall queries\n`,
  );
  console.log(table(contenders, tallies, twoThreads));
}
