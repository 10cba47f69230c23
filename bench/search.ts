/**
 * `pnpm bench search [--items 100000] [--seconds 10] [--model-dir DIR]`
 *
 * Text search through HTTP against the bench store of `--items` vectors (`search-store.ts`: structured like
 * real embeddings, built once into .bench/ and reused), side by side in one run:
 * - p50/p99 latency and QPS under 1 and 16 concurrent clients (autocannon, gateway in its own process);
 * - where the time goes: text encoder vs vector store vs the rest (HTTP, JSON, micro-batching wait), from
 *   the gateway's own Prometheus histograms over the same requests;
 * - the store alone in-process, unfiltered and filtered: p50/p99 and recall@10 against exact search.
 * The model defaults to the full-size synthetic ViT-B/32 (the real text encoder's cost).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { resolveModelContract } from '@clip-search/clip';
import { freePort, startGatewayProcess, stopGatewayProcess, waitReady } from './lib/gateway-process';
import { caltechPrompts, REPO_ROOT, syntheticVitB32 } from './lib/shared-data';
import { printTable } from './lib/table';
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

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gateway = startGatewayProcess(
    {
      DATA_DIR: dataDir,
      CLIP_MODEL_DIR: modelDir,
      CORPUS_DIR: emptyCorpus,
      // A load generator is one client: the per-client rate limit would measure itself.
      RATE_LIMIT_SEARCH_PER_SECOND: '0',
    },
    port,
  );
  try {
    await waitReady(base, gateway);
    const prompts = caltechPrompts();
    await load(base, 1, 2, prompts); // warm-up
    const rows: (string | number)[][] = [];
    let shares = '';
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
    process.stderr.write(`model ${manifest.name}, ${count} stored vectors\n`);
    printTable(['measure', 'p50 ms', 'p99 ms', 'QPS'], rows);
    process.stdout.write(
      `\n${shares}\n\nThe store alone, in-process (recall@10 vs exact search):\n${searchTable(storeAlone.results)}\n`,
    );
  } finally {
    await stopGatewayProcess(gateway);
  }
}
