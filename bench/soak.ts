/**
 * `pnpm bench soak [--minutes 5] [--clients 8] [--ingest-every 20] [--model-dir DIR]`
 *
 * A soak: mixed traffic for `--minutes` against a gateway in its own process (tiny-clip unless
 * `--model-dir`), to see that memory levels off and nothing degrades over time:
 * - `--clients` concurrent clients, each sending one request after another, drawn at random (seeded):
 *   text queries, multipart uploads, `imageUrl` terms served by an HTTP server of this process (the gateway
 *   runs with IMAGE_URL_ALLOW_PRIVATE=true), and filtered text queries;
 * - every `--ingest-every` seconds, an ingest job of a small folder in which one photo was replaced
 *   (`sweep`, so the index keeps its size: growth is the gateway's, not the data's);
 * - the gateway's RSS (VmRSS of /proc/<pid>/status) every 5 s: each minute's median, min and max, and the
 *   growth of the median from minute 2 to the last minute;
 * - p50/p99 latency per kind of request, and errors by status.
 * The run stops by itself; all traffic is on loopback. Rate limits are off: the soak measures the gateway,
 * not its throttling.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, unlink } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  freePort,
  residentBytes,
  startGatewayProcess,
  stopGatewayProcess,
  waitReady,
} from './lib/gateway-process';
import { seededRandom } from '@clip-search/contracts/testing';
import { REPO_ROOT } from './lib/shared-data';
import { printTable } from './lib/table';

const PHOTOS = path.join(REPO_ROOT, 'demo/photos');
const TINY_CLIP = path.join(REPO_ROOT, 'fixtures/models/tiny-clip');
/** Indexed at start: the search traffic has something to find. */
const CORPUS = [
  'chelsea.png',
  'coffee.png',
  'rocket.jpg',
  'moon.png',
  'coins.png',
  'horse.png',
  'camera.png',
];
/** Uploaded, served for `imageUrl`, and rotated through the ingest folder (small and mid-sized photos). */
const QUERY_PHOTOS = [
  'horse.png',
  'page.png',
  'moon.png',
  'coins.png',
  'brick.png',
  'rocket.jpg',
  'chelsea.png',
];
const INGEST_FOLDER_SIZE = 4;
/** How often the gateway's RSS is read. */
const RSS_EVERY_MS = 5000;
const PROMPTS = [
  'a photo of a cat',
  'a cup of coffee on a table',
  'a rocket on the launch pad',
  'the moon at night',
  'a pile of old coins',
  'a horse in a field',
  'a man with a camera',
  'a red brick wall',
  'a page of printed text',
  'a diagram with arrows and labels',
];
const FILTERS: Record<string, unknown>[] = [
  { folder: '' },
  { filename: { prefix: 'c' } },
  { filename: { in: ['moon.png', 'horse.png', 'rocket.jpg'] } },
  { folder: { in: ['', 'nowhere'] }, filename: { prefix: 'co' } },
];
const REQUEST_TIMEOUT_MS = 60_000;
const MiB = 1024 * 1024;

type Kind = 'text' | 'filter' | 'upload' | 'imageUrl';
const KINDS: readonly { kind: Kind; weight: number }[] = [
  { kind: 'text', weight: 35 },
  { kind: 'filter', weight: 25 },
  { kind: 'upload', weight: 20 },
  { kind: 'imageUrl', weight: 20 },
];

function pick<T>(items: readonly T[], rand: () => number): T {
  const item = items[Math.floor(rand() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function pickKind(rand: () => number): Kind {
  const total = KINDS.reduce((s, k) => s + k.weight, 0);
  let r = rand() * total;
  for (const { kind, weight } of KINDS) {
    r -= weight;
    if (r < 0) return kind;
  }
  return 'text';
}

/** Nearest-rank percentile of ascending `sorted`. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

class Tally {
  readonly latencies = new Map<string, number[]>();
  /** `kind status` → count, with the first problem type seen for it. */
  readonly outcomes = new Map<string, { count: number; example: string }>();

  record(kind: string, status: string, ms: number, example = ''): void {
    if (status.startsWith('2')) {
      const list = this.latencies.get(kind) ?? [];
      list.push(ms);
      this.latencies.set(kind, list);
    }
    const key = `${kind}\t${status}`;
    const outcome = this.outcomes.get(key) ?? { count: 0, example };
    outcome.count += 1;
    this.outcomes.set(key, outcome);
  }

  count(kind?: string, ok?: boolean): number {
    let n = 0;
    for (const [key, { count }] of this.outcomes) {
      const [k = '', status = ''] = key.split('\t');
      if (kind !== undefined && k !== kind) continue;
      if (ok !== undefined && status.startsWith('2') !== ok) continue;
      n += count;
    }
    return n;
  }
}

/** The problem `type` slug of an error response, for the error table. */
async function problemSlug(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const type = (JSON.parse(text) as { type?: unknown }).type;
    return typeof type === 'string' ? type.replace(/^.*\/problems\//, '') : text.slice(0, 60);
  } catch {
    return text.slice(0, 60);
  }
}

interface Context {
  base: string;
  imageBase: string;
  photos: Map<string, Buffer>;
  tally: Tally;
}

function searchRequest(kind: Kind, ctx: Context, rand: () => number): { path: string; init: RequestInit } {
  const prompt = pick(PROMPTS, rand);
  const json = (body: unknown): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  switch (kind) {
    case 'text':
      return { path: '/v1/search', init: json({ query: prompt, k: 10 }) };
    case 'filter':
      return { path: '/v1/search', init: json({ query: prompt, k: 5, filter: pick(FILTERS, rand) }) };
    case 'imageUrl': {
      const url = `${ctx.imageBase}/${pick(QUERY_PHOTOS, rand)}`;
      const query = [{ imageUrl: url }, { text: prompt, weight: 0.5 }];
      return { path: '/v1/search', init: json({ query, k: 10 }) };
    }
    case 'upload': {
      const name = pick(QUERY_PHOTOS, rand);
      const form = new FormData();
      form.append('image', new Blob([ctx.photos.get(name) ?? Buffer.alloc(0)]), name);
      form.append('k', '10');
      return { path: '/v1/search/image', init: { method: 'POST', body: form } };
    }
  }
}

async function client(ctx: Context, seed: number, deadline: number): Promise<void> {
  const rand = seededRandom(seed);
  while (Date.now() < deadline) {
    const kind = pickKind(rand);
    const { path: route, init } = searchRequest(kind, ctx, rand);
    const started = performance.now();
    try {
      const response = await fetch(`${ctx.base}${route}`, {
        ...init,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      if (response.ok) {
        await response.arrayBuffer();
        ctx.tally.record(kind, String(response.status), performance.now() - started);
      } else {
        const slug = await problemSlug(response);
        ctx.tally.record(kind, String(response.status), performance.now() - started, slug);
      }
    } catch (error) {
      const name = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      ctx.tally.record(kind, `network: ${name}`, performance.now() - started, (error as Error).message);
      // A refused connection is not a reason to spin: the gateway may be gone.
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface IngestOutcome {
  state: string;
  seconds: number;
  processed: number;
  removed: number;
}

/** Replaces one photo of the ingest folder, then ingests it (with sweep) and waits for the job. */
async function ingestRound(ctx: Context, folder: string, round: number): Promise<IngestOutcome | undefined> {
  const next = QUERY_PHOTOS[(round + INGEST_FOLDER_SIZE) % QUERY_PHOTOS.length] ?? 'moon.png';
  await unlink(path.join(folder, `${round}-${QUERY_PHOTOS[round % QUERY_PHOTOS.length]}`)).catch(
    () => undefined,
  );
  await copyFile(path.join(PHOTOS, next), path.join(folder, `${round + INGEST_FOLDER_SIZE}-${next}`));
  const started = performance.now();
  const response = await fetch(`${ctx.base}/v1/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source: pathToFileURL(folder).href, sweep: true }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (response.status !== 202) {
    ctx.tally.record(
      'ingest',
      String(response.status),
      performance.now() - started,
      await problemSlug(response),
    );
    return undefined;
  }
  const { id } = (await response.json()) as { id: string };
  const until = Date.now() + 120_000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const job = (await (await fetch(`${ctx.base}/v1/ingest/${id}`)).json()) as {
      state: string;
      processed: number;
      removed: number;
    };
    if ((job.state !== 'queued' && job.state !== 'active') || Date.now() > until) {
      const ms = performance.now() - started;
      ctx.tally.record('ingest', job.state === 'completed' ? '202' : `job ${job.state}`, ms, job.state);
      return { state: job.state, seconds: ms / 1000, processed: job.processed, removed: job.removed };
    }
  }
}

async function ingestLoop(
  ctx: Context,
  folder: string,
  everyMs: number,
  deadline: number,
): Promise<IngestOutcome[]> {
  const outcomes: IngestOutcome[] = [];
  for (let round = 0; Date.now() + everyMs < deadline; round++) {
    await new Promise((r) => setTimeout(r, everyMs));
    try {
      const outcome = await ingestRound(ctx, folder, round);
      if (outcome !== undefined) outcomes.push(outcome);
    } catch (error) {
      ctx.tally.record('ingest', 'network', 0, (error as Error).message);
    }
  }
  return outcomes;
}

function startImageServer(photos: Map<string, Buffer>): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const photo = photos.get(decodeURIComponent((req.url ?? '/').slice(1)));
    if (photo === undefined) {
      res.writeHead(404).end();
      return;
    }
    const type = (req.url ?? '').endsWith('.jpg') ? 'image/jpeg' : 'image/png';
    res.writeHead(200, { 'content-type': type, 'content-length': photo.length }).end(photo);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(server);
    });
  });
}

/** Counts the gateway's JSON log lines by level (warnings and errors: the log level is warn). */
async function logLevels(logFile: string): Promise<{ levels: Record<string, number>; firstLines: string[] }> {
  const levels: Record<string, number> = {};
  const firstLines: string[] = [];
  const text = await readFile(logFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let level = 'other';
    try {
      const parsed = (JSON.parse(line) as { level?: unknown }).level;
      if (typeof parsed === 'string') level = parsed;
    } catch {
      // a line that is not JSON (a crash trace): counted as other
    }
    levels[level] = (levels[level] ?? 0) + 1;
    if (firstLines.length < 5) firstLines.push(line.slice(0, 300));
  }
  return { levels, firstLines };
}

const mib = (bytes: number | undefined) => (bytes === undefined ? NaN : bytes / MiB);

export default async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      minutes: { type: 'string', default: '5' },
      clients: { type: 'string', default: '8' },
      'ingest-every': { type: 'string', default: '20' },
      'model-dir': { type: 'string' },
      seed: { type: 'string', default: '1' },
    },
  });
  const minutes = Number(values.minutes);
  const clients = Number(values.clients);
  const ingestEverySeconds = Number(values['ingest-every']);
  const seed = Number(values.seed);
  if (!(minutes > 0) || !Number.isInteger(clients) || clients < 1 || !(ingestEverySeconds > 0))
    throw new Error('--minutes must be > 0, --clients a whole number ≥ 1, --ingest-every > 0 (seconds)');
  const modelDir = path.resolve(values['model-dir'] ?? TINY_CLIP);
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const work = await mkdtemp(path.join(os.tmpdir(), 'clip-search-soak-'));
  const corpus = path.join(work, 'corpus');
  const ingestFolder = path.join(work, 'ingest');
  const logFile = path.join(work, 'gateway.log');
  await mkdir(corpus);
  await mkdir(ingestFolder);
  for (const name of CORPUS) await copyFile(path.join(PHOTOS, name), path.join(corpus, name));
  for (let i = 0; i < INGEST_FOLDER_SIZE; i++) {
    const name = QUERY_PHOTOS[i % QUERY_PHOTOS.length] ?? 'moon.png';
    await copyFile(path.join(PHOTOS, name), path.join(ingestFolder, `${i}-${name}`));
  }
  const photos = new Map<string, Buffer>();
  for (const name of QUERY_PHOTOS) photos.set(name, await readFile(path.join(PHOTOS, name)));
  const images = await startImageServer(photos);

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gateway = startGatewayProcess(
    {
      CLIP_MODEL_DIR: modelDir,
      DATA_DIR: path.join(work, 'data'),
      CORPUS_DIR: corpus,
      INGEST_ROOTS: ingestFolder,
      IMAGE_URL_ALLOW_PRIVATE: 'true',
      RATE_LIMIT_SEARCH_PER_SECOND: '0',
      RATE_LIMIT_INGEST_PER_SECOND: '0',
    },
    port,
    logFile,
  );
  const pid = gateway.pid;
  if (pid === undefined) throw new Error('the gateway did not start');
  try {
    await waitReady(base, gateway);
    const ctx: Context = {
      base,
      imageBase: `http://127.0.0.1:${(images.address() as AddressInfo).port}`,
      photos,
      tally: new Tally(),
    };
    const started = Date.now();
    const deadline = started + minutes * 60_000;
    log(
      `soak: ${minutes} min, ${clients} clients, an ingest every ${ingestEverySeconds} s, model ${modelDir}, gateway pid ${pid}`,
    );
    // RSS every few seconds: one reading a minute lands anywhere on the garbage collector's sawtooth,
    // so each minute is summarized by the median of its readings, and growth compares medians.
    const readings: { minute: number; bytes: number }[] = [];
    const read = () => {
      if (Date.now() >= deadline) return; // the tail of in-flight requests is not a minute of load
      const bytes = residentBytes(pid);
      const minute = Math.floor((Date.now() - started) / 60_000) + 1;
      if (bytes !== undefined) readings.push({ minute, bytes });
    };
    const before = residentBytes(pid);
    log(`minute 0: RSS ${mib(before).toFixed(1)} MiB (ready, before traffic)`);
    let logged = 0;
    const sampler = setInterval(() => {
      read();
      const minute = Math.floor((Date.now() - started) / 60_000);
      if (minute > logged) {
        logged = minute;
        log(
          `minute ${minute}: RSS ${mib(readings[readings.length - 1]?.bytes).toFixed(1)} MiB, ` +
            `${ctx.tally.count()} requests so far, ${ctx.tally.count(undefined, false)} errors`,
        );
      }
    }, RSS_EVERY_MS);
    const [outcomes] = await Promise.all([
      ingestLoop(ctx, ingestFolder, ingestEverySeconds * 1000, deadline),
      ...Array.from({ length: clients }, (_, i) => client(ctx, seed * 1000 + i, deadline)),
    ]);
    clearInterval(sampler);
    const elapsed = (Date.now() - started) / 1000;

    process.stdout.write(`\nRequests per kind (${elapsed.toFixed(0)} s, ${clients} clients):\n`);
    printTable(
      ['kind', 'requests', 'ok', 'req/s', 'p50 ms', 'p99 ms'],
      KINDS.map(({ kind }) => {
        const sorted = [...(ctx.tally.latencies.get(kind) ?? [])].sort((a, b) => a - b);
        return [
          kind,
          ctx.tally.count(kind),
          ctx.tally.count(kind, true),
          ctx.tally.count(kind) / elapsed,
          percentile(sorted, 50),
          percentile(sorted, 99),
        ];
      }),
    );
    const jobSeconds = outcomes.map((o) => o.seconds * 1000).sort((a, b) => a - b);
    process.stdout.write(
      `\nIngest jobs: ${outcomes.length} (${outcomes.filter((o) => o.state === 'completed').length} completed), ` +
        `p50 ${percentile(jobSeconds, 50).toFixed(0)} ms, max ${percentile(jobSeconds, 100).toFixed(0)} ms, ` +
        `${outcomes.reduce((s, o) => s + o.removed, 0)} items swept\n`,
    );

    const errors = [...ctx.tally.outcomes].filter(([key]) => !(key.split('\t')[1] ?? '').startsWith('2'));
    process.stdout.write(`\nErrors by status: ${errors.length === 0 ? 'none' : ''}\n`);
    if (errors.length > 0)
      printTable(
        ['kind', 'status', 'count', 'first problem'],
        errors.map(([key, { count, example }]) => [...key.split('\t'), count, example.slice(0, 80)]),
      );

    process.stdout.write(
      `\nGateway RSS (VmRSS, read every ${RSS_EVERY_MS / 1000} s; before traffic ${mib(before).toFixed(0)} MiB):\n`,
    );
    const perMinute = [...new Set(readings.map((r) => r.minute))].map((minute) => {
      const sorted = readings
        .filter((r) => r.minute === minute)
        .map((r) => r.bytes)
        .sort((a, b) => a - b);
      return {
        minute,
        median: percentile(sorted, 50),
        min: sorted[0] ?? 0,
        max: sorted[sorted.length - 1] ?? 0,
      };
    });
    printTable(
      ['minute', 'median MiB', 'min MiB', 'max MiB'],
      perMinute.map((m) => [m.minute, mib(m.median), mib(m.min), mib(m.max)]),
    );
    const from = perMinute.find((m) => m.minute === 2) ?? perMinute[0];
    const last = perMinute[perMinute.length - 1];
    if (from !== undefined && last !== undefined && last.minute > from.minute) {
      const d = last.median - from.median;
      process.stdout.write(
        `RSS growth (median) from minute ${from.minute} to minute ${last.minute}: ` +
          `${d >= 0 ? '+' : ''}${mib(d).toFixed(1)} MiB (${((100 * d) / from.median).toFixed(1)}%)\n`,
      );
    }
    const { levels, firstLines } = await logLevels(logFile);
    const levelText = Object.entries(levels)
      .map(([level, n]) => `${n} ${level}`)
      .join(', ');
    process.stdout.write(`Gateway log: ${levelText === '' ? 'nothing at warn or above' : levelText}\n`);
    for (const line of firstLines) process.stdout.write(`  ${line}\n`);
  } finally {
    await stopGatewayProcess(gateway);
    await new Promise((resolve) => images.close(resolve));
    await rm(work, { recursive: true, force: true });
  }
}
