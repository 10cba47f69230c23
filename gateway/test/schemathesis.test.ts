/**
 * Schemathesis, a fuzzer we did not write, against our OpenAPI document and a live gateway (tiny-clip, an
 * indexed corpus). It runs every check it has (no 5xx, response schema and status code conformance,
 * content types, negative data rejected, positive data accepted, undeclared methods, deleted resources…)
 * plus ours from tools/schemathesis/hooks.py (problem+json bodies are small and well formed), with a fixed
 * seed and a bounded number of examples per operation. Any finding fails the test and prints the
 * reproduction Schemathesis gives.
 *
 * Schemathesis lives in a Python venv (.venv-tools/) that scripts/python-tools.sh creates from the pinned
 * tools/schemathesis/requirements.txt; without Python the test is reported as skipped, with the reason.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { MAX_PROBLEM_BYTES } from '../src/http/problem';
import {
  folderUri,
  makeCorpus,
  PHOTOS,
  ROOT,
  startTestServer,
  TINY_CLIP,
  type TestServer,
} from './helpers/gateway-harness';

/** Test cases per operation and phase: 1500–2500 in all, 30–60 s on two busy cores. */
const MAX_EXAMPLES = 50;
const SEED = 20261129;
/** A run that takes longer than this is a finding too (something hangs). */
const RUN_TIMEOUT_MS = 170_000;
/** An admin key: the document requires one on every /v1 operation, and Schemathesis checks it is enforced. */
const API_KEY = `csk_${randomBytes(32).toString('base64url')}`;
const AUTHORIZATION = `Bearer ${API_KEY}`;

const TOOLS = path.join(ROOT, 'tools/schemathesis');
const SCHEMATHESIS = path.join(ROOT, '.venv-tools/bin/schemathesis');

/**
 * The venv, created or refreshed by the project's script (instant when up to date), or why there is none.
 * Decided at load time so that Jest reports the suite as skipped rather than passed.
 */
function schemathesisUnavailable(): string | undefined {
  const setup = spawnSync('bash', [path.join(ROOT, 'scripts/python-tools.sh')], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (setup.error !== undefined) return `scripts/python-tools.sh could not run: ${setup.error.message}`;
  const said = setup.stderr.trim().split('\n').slice(-3).join(' | ');
  if (setup.status !== 0) return `scripts/python-tools.sh failed (exit ${setup.status}): ${said}`;
  if (!existsSync(SCHEMATHESIS)) return `no ${SCHEMATHESIS} (${said || 'Python 3 with venv unavailable'})`;
  return undefined;
}

const unavailable = schemathesisUnavailable();
if (unavailable !== undefined) console.warn(`SKIPPED: Schemathesis API fuzzing: ${unavailable}`);
const describeIfAvailable = unavailable === undefined ? describe : describe.skip;

jest.setTimeout(RUN_TIMEOUT_MS + 60_000);

interface RunResult {
  code: number | null;
  output: string;
}

function runSchemathesis(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(SCHEMATHESIS, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    const timer = setTimeout(() => {
      chunks.push(Buffer.from(`\n[killed: no result after ${RUN_TIMEOUT_MS} ms]\n`));
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

interface JsonReport {
  test_cases?: { generated?: number };
  failures?: { code: string; title: string; count: number; operations: string[] }[];
  errors?: unknown[];
}

/** One line per kind of finding, from Schemathesis' JSON report. */
function summarize(report: JsonReport | undefined): string {
  if (report === undefined) return '(no JSON report)';
  const lines = (report.failures ?? []).map(
    (f) => `  ${f.code} ${f.title} (${f.count}): ${f.operations.join(', ')}`,
  );
  const errors = report.errors?.length ?? 0;
  return [
    `${report.test_cases?.generated ?? '?'} test cases`,
    ...lines,
    ...(errors > 0 ? [`  ${errors} errors`] : []),
  ].join('\n');
}

/** The reproductions: everything from Schemathesis' FAILURES banner on (curl commands, `st replay` ids). */
function findings(output: string): string {
  const start = output.search(/^=+ (FAILURES|ERRORS) =+$/m);
  const text = start === -1 ? output : output.slice(start);
  const limit = 60_000;
  return text.length > limit ? `${text.slice(0, limit)}\n… (${text.length - limit} more characters)` : text;
}

describeIfAvailable('Schemathesis against the live gateway', () => {
  let corpus: string;
  let work: string;
  let server: TestServer;
  let images: http.Server;
  let imageBase: string;
  const itemIds: string[] = [];
  const jobIds: string[] = [];

  beforeAll(async () => {
    corpus = await makeCorpus();
    work = await mkdtemp(path.join(os.tmpdir(), 'clip-search-schemathesis-'));
    // `imageUrl` terms are pointed here by the hooks: fuzzing stays on loopback.
    const png = await readFile(path.join(PHOTOS, 'coins.png'));
    images = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      res.end(png);
    });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    imageBase = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
    server = await startTestServer({
      CORPUS_DIR: corpus,
      IMAGE_URL_ALLOW_PRIVATE: 'true',
      IMAGE_URL_TIMEOUT_MS: '5000',
      AUTH: 'keys',
      API_KEYS: `fuzz:admin:${createHash('sha256').update(API_KEY).digest('hex')}`,
      // The fuzzer tests what requests do, not how many a client may send.
      RATE_LIMIT_SEARCH_PER_SECOND: '0',
      RATE_LIMIT_INGEST_PER_SECOND: '0',
    });
    await server.running.ready;
    const api = () => request.agent(server.url).set('Authorization', AUTHORIZATION);
    const started = await api()
      .post('/v1/ingest')
      .send({ source: folderUri(corpus) });
    expect(started.status).toBe(202);
    const jobId = (started.body as { id: string }).id;
    for (let state = 'queued'; state === 'queued' || state === 'active';) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      state = ((await api().get(`/v1/ingest/${jobId}`).expect(200)).body as { state: string }).state;
      if (state !== 'queued' && state !== 'active') expect(state).toBe('completed');
    }
    jobIds.push(jobId);
    const all = await api().post('/v1/search').send({ query: 'anything', k: 100 }).expect(200);
    itemIds.push(...(all.body as { results: { id: string }[] }).results.map((r) => r.id));
    expect(itemIds.length).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await server.close();
    await new Promise((resolve) => images.close(resolve));
    await rm(corpus, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it(`finds nothing with every check (seed ${SEED}, ≤ ${MAX_EXAMPLES} examples per operation)`, async () => {
    const manifest = JSON.parse(await readFile(path.join(TINY_CLIP, 'model.json'), 'utf8')) as {
      dim: number;
    };
    const reportDir = path.join(work, 'report');
    const args = [
      '--config-file',
      path.join(TOOLS, 'schemathesis.toml'),
      'run',
      `${server.url}/openapi.json`,
      '--url',
      server.url,
      '--checks',
      'all',
      '--max-examples',
      String(MAX_EXAMPLES),
      '--seed',
      String(SEED),
      '--workers',
      '1',
      '--continue-on-failure',
      '--request-timeout',
      '30',
      '--generation-database',
      'none',
      '--no-color',
      // The API key is made up for this run: the reproductions may show it.
      '--output-sanitize',
      'false',
      '--report',
      'json',
      '--report-dir',
      reportDir,
    ];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SCHEMATHESIS_HOOKS: path.join(TOOLS, 'hooks.py'),
      CLIP_SEARCH_API_KEY: API_KEY,
      // hooks.py fails any error body over the gateway's own cap.
      CLIP_SEARCH_PROBLEM_MAX_BYTES: String(MAX_PROBLEM_BYTES),
      CLIP_SEARCH_MAX_IMAGE_URLS: String(server.running.container.config.imageUrl.maxPerRequest),
      CLIP_SEARCH_ITEM_IDS: itemIds.join(','),
      CLIP_SEARCH_JOB_IDS: jobIds.join(','),
      CLIP_SEARCH_IMAGE_URL: imageBase,
      CLIP_SEARCH_DIM: String(manifest.dim),
      // Loopback only, whatever proxy the machine is configured with.
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
    };
    const { code, output } = await runSchemathesis(args, env, work);
    const reports = existsSync(reportDir) ? await readdir(reportDir) : [];
    const jsonReport = reports.find((f) => f.endsWith('.json'));
    const report =
      jsonReport === undefined
        ? undefined
        : (JSON.parse(await readFile(path.join(reportDir, jsonReport), 'utf8')) as JsonReport);
    if (code !== 0) {
      const saved = path.join(os.tmpdir(), `schemathesis-${process.pid}.log`);
      await writeFile(saved, output);
      throw new Error(
        `Schemathesis exited with ${code} (full output: ${saved})\n${summarize(report)}\n\n${findings(output)}`,
      );
    }
    expect(report?.failures ?? []).toEqual([]);
  });
});
