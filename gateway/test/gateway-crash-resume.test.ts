import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { PHOTOS, ROOT, TINY_CLIP } from './helpers/gateway-harness';

jest.setTimeout(240_000);

const MAIN = path.join(ROOT, 'gateway/src/main.ts');

interface Job {
  id: string;
  state: string;
  total: number;
  processed: number;
}

/** The gateway process (gateway/src/main.ts); resolves its URL from the "Listening" log line. */
function startGateway(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  url: Promise<string>;
  exit: Promise<number | null>;
} {
  // The sources through tsx (ESM mode: the gateway loads some modules with import()), every workspace
  // package through its "source" export, decorators through the repository's tsconfig.
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json'),
      CLIP_MODEL_DIR: TINY_CLIP,
      PORT: '0',
      LOG_FORMAT: 'json',
      ONNX_THREADS: '1',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exit = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      resolve(code);
    });
  });
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /"message":"Listening".*?"url":"(http:[^"]+)"/.exec(stderr);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    void exit.then((code) => {
      reject(new Error(`gateway exited (${String(code)}) before listening:\n${stderr}`));
    });
  });
  url.catch(() => undefined);
  return { child, url, exit };
}

async function jobs(url: string): Promise<Job[]> {
  const response = await request(url).get('/v1/ingest').expect(200);
  return (response.body as { jobs: Job[] }).jobs;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('gateway killed with SIGKILL during the start-up corpus ingest', () => {
  let corpus: string;
  let dataDir: string;
  let files = 0;

  beforeAll(async () => {
    corpus = await mkdtemp(path.join(os.tmpdir(), 'clip-search-crash-corpus-'));
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'clip-search-crash-data-'));
    const photos = (await readdir(PHOTOS)).filter((name) => /\.(png|jpg)$/.test(name));
    for (let copy = 0; copy < 8; copy++) {
      await mkdir(path.join(corpus, `copy${copy}`));
      for (const photo of photos) {
        await copyFile(path.join(PHOTOS, photo), path.join(corpus, `copy${copy}`, photo));
        files++;
      }
    }
  });
  afterAll(async () => {
    await rm(corpus, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('resumes the same job on restart, without a duplicate job or item', async () => {
    const env = { CORPUS_DIR: corpus, DATA_DIR: dataDir };
    const first = startGateway(env);
    const firstUrl = await first.url;
    const running = await until('the corpus job to be under way', async () => {
      const [job] = await jobs(firstUrl);
      return job !== undefined && job.state === 'active' && job.processed >= 16 ? job : undefined;
    });
    first.child.kill('SIGKILL');
    expect(await first.exit).toBeNull();
    expect(running.processed).toBeLessThan(files);

    const second = startGateway(env);
    try {
      const url = await second.url;
      const done = await until('the resumed job to finish', async () => {
        const list = await jobs(url);
        const job = list.find((j) => j.id === running.id);
        return job !== undefined && job.state === 'completed' ? { job, list } : undefined;
      });
      // The start-up ingest found the interrupted job pending and did not queue another.
      expect(done.list).toHaveLength(1);
      expect(done.job.total).toBe(files);
      const stats = await request(url).get('/v1/stats').expect(200);
      expect((stats.body as { items: number }).items).toBe(files);
      const all = await request(url)
        .post('/v1/search')
        .send({ query: 'anything', k: 1000, include: [] })
        .expect(200);
      const uris = (all.body as { results: { uri: string }[] }).results.map((r) => r.uri);
      expect(new Set(uris).size).toBe(files);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exit).toBe(0);
    }
  });
});
