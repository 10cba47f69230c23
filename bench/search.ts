/**
 * `pnpm bench search [--items 100000] [--seconds 10] [--model-dir DIR]`
 *
 * Text search through HTTP against the bench store of `--items` vectors (`search-store.ts`: structured like
 * real embeddings, built once into .bench/ and reused), side by side in one run:
 * - p50/p99 latency and QPS under 1 and 16 concurrent clients (autocannon, gateway in its own process);
 * - one client's latency with the micro-batcher's idle dispatch (EMBED_MAX_WAIT_MS=0, the default: a
 *   request that finds the model idle runs at once) against its former 5 ms wait for company, which a
 *   lone client never gets. A gateway reads the setting at start and holds its store exclusively, so two
 *   gateways run side by side on copies of the store and the client alternates between them request by
 *   request: whatever else loads the machine slows both alike, and the paired differences cancel it.
 *   The same over the text encoder alone, in this process (two micro-batchers over one ONNX backend);
 * - where the time goes: text encoder vs vector store vs the rest (HTTP, JSON, micro-batching wait), from
 *   the gateway's own Prometheus histograms over the same requests;
 * - the store alone in-process, unfiltered and filtered: p50/p99 and recall@10 against exact search.
 * The model defaults to the full-size synthetic ViT-B/32 (the real text encoder's cost).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import {
  assembleClipEmbedder,
  loadModelTokenizer,
  resolveModelContract,
  resolveModelDir,
} from '@clip-search/clip';
import { OnnxInferenceBackend } from '@clip-search/embedder-onnx';
import { freePort, startGatewayProcess, stopGatewayProcess, waitReady } from './lib/gateway-process';
import { caltechPrompts, REPO_ROOT, syntheticVitB32 } from './lib/shared-data';
import { median, printTable } from './lib/table';
import { BENCH_DIM, ensureBenchStore, measureStoreSearch, searchTable } from './search-store';

/** Sum and count of one Prometheus histogram series, read from /metrics text. */
function histogram(text: string, name: string, labels: string): { sum: number; count: number } {
  const read = (suffix: string) => {
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`${name}_${suffix}{`) && labels.split(',').every((p) => l.includes(p)));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return { sum: read('sum'), count: read('count') };
}

async function scrape(base: string): Promise<string> {
  return (await fetch(`${base}/metrics`)).text();
}

async function load(base: string, connections: number, seconds: number, prompts: string[]) {
  let next = 0;
  const result = await autocannon({
    url: `${base}/v1/search`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => {
          const query = prompts[next++ % prompts.length] ?? 'a photo';
          return { ...request, body: JSON.stringify({ query, k: 10 }) };
        },
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${result.non2xx} non-2xx responses and ${result.errors} errors under load`);
  }
  return { p50: result.latency.p50, p99: result.latency.p99, qps: result.requests.average };
}

/** One text search over HTTP, its answer read in full. */
async function postSearch(base: string, query: string): Promise<void> {
  const response = await fetch(`${base}/v1/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, k: 10 }),
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`search answered ${response.status}`);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** One way of answering a query (a search, an embedding); what `alternate` times. */
type Side = (query: string) => Promise<unknown>;

/**
 * Runs the two sides alternately for `ms`, the same query on both, the first side first every other
 * time: the latencies of each, ms, pairwise comparable. A pause before each request leaves the model idle,
 * as between a person's searches; it also lets ONNX Runtime's threads, which spin for a moment after a
 * run, stop before the other side starts (else only a side that waits would find the cores free).
 */
async function alternate(
  sides: readonly [Side, Side],
  prompts: readonly string[],
  ms: number,
): Promise<[number[], number[]]> {
  const latencies: [number[], number[]] = [[], []];
  const end = performance.now() + ms;
  for (let i = 0; performance.now() < end; i++) {
    const query = prompts[i % prompts.length] ?? 'a photo';
    const order: readonly (0 | 1)[] = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const j of order) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const start = performance.now();
      await sides[j](query);
      latencies[j].push(performance.now() - start);
    }
  }
  return latencies;
}

/** The text encoder alone: two ClipEmbedders (micro-batchers waiting `waits` ms) over one ONNX backend. */
async function withInProcessEncoders<T>(
  modelDir: string,
  waits: readonly [number, number],
  use: (sides: [Side, Side]) => Promise<T>,
): Promise<T> {
  const model = await resolveModelDir(modelDir);
  const backend = await OnnxInferenceBackend.load(model, { threads: 0, maxBatchSize: 8 });
  try {
    const tokenizer = await loadModelTokenizer(model.bpePath, model.manifest);
    const embedText = (maxWaitMs: number): Side => {
      const embedder = assembleClipEmbedder(backend, tokenizer, model.manifest, {
        modelDir,
        modelName: model.manifest.name,
        modelCacheDir: modelDir,
        threads: 0,
        maxBatchSize: 8,
        maxWaitMs,
        maxImagePixels: 100_000_000,
      });
      return (query) => embedder.embedTexts([query]);
    };
    return await use([embedText(waits[0]), embedText(waits[1])]);
  } finally {
    await backend.close();
  }
}

export default async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      items: { type: 'string', default: '100000' },
      seconds: { type: 'string', default: '10' },
      'model-dir': { type: 'string' },
    },
  });
  const count = Number(values.items);
  const seconds = Number(values.seconds);
  const modelDir = path.resolve(values['model-dir'] ?? syntheticVitB32());
  const { manifest } = await resolveModelContract({ modelDir, modelName: '' });
  if (manifest.dim !== BENCH_DIM)
    throw new Error(`the bench store holds ${BENCH_DIM}-d vectors; ${manifest.name} is ${manifest.dim}-d`);
  const dataDir = path.join(REPO_ROOT, '.bench', `search-${manifest.name}-${count}`);
  const storeDir = path.join(dataDir, 'vectors');
  const emptyCorpus = path.join(dataDir, 'empty-corpus');
  fs.mkdirSync(emptyCorpus, { recursive: true });

  const log = (line: string) => process.stderr.write(`${line}\n`);
  await ensureBenchStore({ dir: storeDir, count, modelId: manifest.name, log });
  const storeAlone = await measureStoreSearch(storeDir, { count, queryCount: 200, modelId: manifest.name });

  const prompts = caltechPrompts();
  /** Runs `measure` against a warmed-up gateway on the store under `data`, started with `env` on top. */
  const withGateway = async <T>(
    data: string,
    env: NodeJS.ProcessEnv,
    measure: (base: string) => Promise<T>,
  ): Promise<T> => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const gateway = startGatewayProcess(
      {
        DATA_DIR: data,
        CLIP_MODEL_DIR: modelDir,
        CORPUS_DIR: emptyCorpus,
        // A load generator is one client: the per-client rate limit would measure itself.
        RATE_LIMIT_SEARCH_PER_SECOND: '0',
        ...env,
      },
      port,
    );
    try {
      await waitReady(base, gateway);
      await load(base, 1, 2, prompts); // warm-up
      return await measure(base);
    } finally {
      await stopGatewayProcess(gateway);
    }
  };

  const rows: (string | number)[][] = [];
  let shares = '';
  await withGateway(dataDir, {}, async (base) => {
    for (const connections of [1, 16]) {
      const before = await scrape(base);
      const measured = await load(base, connections, seconds, prompts);
      const after = await scrape(base);
      rows.push([
        `HTTP text search, ${connections} client${connections > 1 ? 's' : ''}`,
        measured.p50,
        measured.p99,
        measured.qps,
      ]);
      if (connections === 1) {
        const delta = (name: string, labels: string) => {
          const a = histogram(after, name, labels);
          const b = histogram(before, name, labels);
          return { sum: a.sum - b.sum, count: a.count - b.count };
        };
        const http = delta('http_request_duration_seconds', 'route="/v1/search",method="POST"');
        const encoder = delta('clip_embedding_duration_seconds', 'modality="text"');
        const store = delta('vector_search_duration_seconds', '');
        const pct = (x: number) => `${((100 * x) / http.sum).toFixed(1)}%`;
        shares = [
          `latency share over ${http.count} requests (1 client, mean ${((1000 * http.sum) / Math.max(1, http.count)).toFixed(2)} ms):`,
          `text encoder ${pct(encoder.sum)}, vector store ${pct(store.sum)}, HTTP + JSON + the rest ${pct(http.sum - encoder.sum - store.sum)}`,
        ].join(' ');
      }
    }
  });

  // The former idle wait beside the default, on a copy of the store (each gateway locks its own).
  const waits = [0, 5] as const;
  const twinDir = `${dataDir}-twin`;
  fs.rmSync(twinDir, { recursive: true, force: true });
  fs.cpSync(storeDir, path.join(twinDir, 'vectors'), { recursive: true });
  const search =
    (base: string): Side =>
    (query) =>
      postSearch(base, query);
  let http: [number[], number[]];
  try {
    http = await withGateway(dataDir, { EMBED_MAX_WAIT_MS: String(waits[0]) }, (now) =>
      withGateway(twinDir, { EMBED_MAX_WAIT_MS: String(waits[1]) }, (waited) =>
        alternate([search(now), search(waited)], prompts, 1000 * seconds),
      ),
    );
  } finally {
    fs.rmSync(twinDir, { recursive: true, force: true });
  }
  const encoder = await withInProcessEncoders(modelDir, waits, (sides) =>
    alternate(sides, prompts, 1000 * seconds),
  );
  const dispatchRows = (what: string, latencies: [number[], number[]]) =>
    latencies.map((samples, i) => {
      const sorted = [...samples].sort((a, b) => a - b);
      const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
      const paired = i === 0 ? '' : median(samples.map((x, n) => x - (latencies[0][n] ?? NaN))).toFixed(1);
      return [
        what,
        `EMBED_MAX_WAIT_MS=${waits[i]}${i === 0 ? ' (default)' : ' (former)'}`,
        sorted.length,
        percentile(sorted, 50),
        percentile(sorted, 90),
        percentile(sorted, 99),
        mean,
        paired,
      ];
    });

  process.stderr.write(`model ${manifest.name}, ${count} stored vectors\n`);
  printTable(['measure', 'p50 ms', 'p99 ms', 'QPS'], rows);
  process.stdout.write(
    '\nA request that finds the model idle: at once (default) or after 5 ms for company (former default).\n' +
      'One client alternating between the two, the same query on both, 20 ms apart; Δ = median of the\n' +
      'paired differences:\n',
  );
  printTable(
    ['measure', 'dispatch', 'requests', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms', 'Δ ms'],
    [...dispatchRows('HTTP text search', http), ...dispatchRows('text encoder, in-process', encoder)],
  );
  process.stdout.write(
    `\n${shares}\n\nThe store alone, in-process (recall@10 vs exact search):\n${searchTable(storeAlone.results)}\n`,
  );
}
