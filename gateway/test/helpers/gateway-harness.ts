import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLogger, Metrics, type Logger } from '@clip-search/platform';
import { loadConfig } from '@clip-search/config';
import request from 'supertest';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/server';

export const ROOT = path.resolve(__dirname, '../../..');
export const PHOTOS = path.join(ROOT, 'demo/photos');
export const TINY_CLIP = path.join(ROOT, 'fixtures/models/tiny-clip');

/** Valid images of the test corpus: `<folder>/<file>` → the demo photo copied there. */
export const CORPUS_IMAGES: Readonly<Record<string, string>> = {
  'chelsea.png': 'chelsea.png',
  'coffee.png': 'coffee.png',
  'rocket.jpg': 'rocket.jpg',
  'moon.png': 'moon.png',
  'coins.png': 'coins.png',
  'page.png': 'page.png',
  'sub/horse.png': 'horse.png',
  'sub/camera.png': 'camera.png',
  'sub/deeper/brick.png': 'brick.png',
};

/** Files with image names that are not images: each must fail alone, never the job. */
export const CORPUS_BROKEN = ['broken.jpg', 'truncated.png', 'notes.png'] as const;

/** A folder of real photos with corrupt files mixed in. */
export async function makeCorpus(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clip-search-corpus-'));
  for (const [target, photo] of Object.entries(CORPUS_IMAGES)) {
    await mkdir(path.dirname(path.join(dir, target)), { recursive: true });
    await copyFile(path.join(PHOTOS, photo), path.join(dir, target));
  }
  await writeFile(
    path.join(dir, 'broken.jpg'),
    Buffer.from('\xff\xd8\xff\xe0 this is not really a jpeg', 'latin1'),
  );
  const png = await readFile(path.join(PHOTOS, 'moon.png'));
  await writeFile(path.join(dir, 'truncated.png'), png.subarray(0, 300));
  await writeFile(path.join(dir, 'notes.png'), 'plain text, not a picture\n');
  await writeFile(path.join(dir, 'readme.txt'), 'not listed: no image extension\n');
  return dir;
}

export const folderUri = (dir: string) => pathToFileURL(dir).href;

export interface TestServer {
  readonly running: RunningServer;
  readonly url: string;
  readonly dataDir: string;
  /** Every log entry of the server, as winston hands it to transports. */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** A logger that records entries instead of printing them. */
export function recordingLogger(): { logger: Logger; logs: Record<string, unknown>[] } {
  const logger = createLogger({ level: 'debug', format: 'json', service: 'gateway' });
  for (const transport of logger.transports) transport.silent = true;
  const logs: Record<string, unknown>[] = [];
  logger.on('data', (entry: Record<string, unknown>) => {
    logs.push(entry);
  });
  return { logger, logs };
}

/** The gateway on a free port over a fresh DATA_DIR, with tiny-clip. */
export async function startTestServer(
  env: Record<string, string> = {},
  options: StartServerOptions & { readonly dataDir?: string } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'clip-search-data-')));
  const config = loadConfig({
    CLIP_MODEL_DIR: TINY_CLIP,
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    ONNX_THREADS: '1',
    ...env,
  });
  const { logger, logs } = recordingLogger();
  const running = await startServer(config, {
    logger,
    metrics: new Metrics(),
    indexCorpusAtStart: false,
    drainTimeoutMs: 2000,
    ...options,
  });
  return {
    running,
    url: running.url,
    dataDir,
    logs,
    close: async () => {
      await running.close();
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

interface JobBody {
  id: string;
  state: string;
  total: number;
  processed: number;
  skipped: number;
  failed: number;
  removed: number;
  errors: { uri: string; reason: string }[];
}

/** Polls an ingest job until it is no longer queued or active. */
export async function waitForJob(url: string, id: string, timeoutMs = 60_000): Promise<JobBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await request(url).get(`/v1/ingest/${id}`).expect(200);
    const job = response.body as JobBody;
    if (job.state !== 'queued' && job.state !== 'active') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.state} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
