import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ModelLoadError } from '@clip-search/contracts';
import request from 'supertest';
import { openEmbeddedBackends } from '../src/app/embedded-backends';
import { PHOTOS, startTestServer, type TestServer } from './helpers/gateway-harness';

jest.setTimeout(120_000);

const PROBLEM_BASE = 'https://clip-search.dev/problems/';

interface Job {
  id: string;
  state: string;
  source: string;
  total: number;
  skipped: number;
  failed: number;
}

async function waitForCorpusJob(url: string): Promise<Job> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await request(url).get('/v1/ingest').expect(200);
    const [job] = (response.body as { jobs: Job[] }).jobs;
    if (job !== undefined && job.state !== 'queued' && job.state !== 'active') return job;
    if (Date.now() > deadline) throw new Error('the corpus job did not finish');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A local origin for imageUrl terms; `onRequest` runs before it answers. */
async function startOrigin(
  onRequest: (req: http.IncomingMessage) => Promise<void> | void = () => undefined,
): Promise<{ url: string; close: () => void; hits: () => number }> {
  const image = await readFile(path.join(PHOTOS, 'chelsea.png'));
  let hits = 0;
  const origin = http.createServer((req, res) => {
    hits++;
    void Promise.resolve(onRequest(req)).then(() => {
      res.writeHead(200, { 'content-type': 'image/png' }).end(image);
    });
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const { port } = origin.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      origin.closeAllConnections();
      origin.close();
    },
    hits: () => hits,
  };
}

describe('backends not ready', () => {
  it('answers /healthz, and 503 + Retry-After elsewhere while the model loads', async () => {
    const server = await startTestServer({}, { openBackends: () => new Promise(() => undefined) });
    try {
      await request(server.url).get('/healthz').expect(200);
      for (const pending of [
        request(server.url).get('/readyz'),
        request(server.url).post('/v1/search').send({ query: 'cat' }),
        request(server.url).get('/v1/stats'),
      ]) {
        const response = await pending;
        expect(response.status).toBe(503);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(response.headers['retry-after']).toBe('5');
        expect(response.body).toMatchObject({ type: `${PROBLEM_BASE}backend-unavailable`, status: 503 });
        expect((response.body as { detail: string }).detail).toMatch(/still loading/);
      }
      // Validation still answers first: a bad request is bad whatever the backends do.
      await request(server.url).post('/v1/search').send({ query: 'cat', k: -1 }).expect(422);
    } finally {
      await server.close();
    }
  });

  it('reports why when the backends failed to open', async () => {
    const server = await startTestServer(
      {},
      { openBackends: () => Promise.reject(new ModelLoadError('model.json is missing in /nowhere')) },
    );
    try {
      await expect(server.running.ready).rejects.toThrow(ModelLoadError);
      const ready = await request(server.url).get('/readyz').expect(503);
      expect(ready.headers['retry-after']).toBe('30');
      expect((ready.body as { detail: string }).detail).toMatch(/model\.json is missing/);
      await request(server.url).get('/healthz').expect(200);
    } finally {
      await server.close();
    }
  });
});

describe('unexpected failures', () => {
  it('answer a 500 problem that leaks nothing, and log the stack under the request id', async () => {
    const secret = 'db password is hunter2';
    const server = await startTestServer(
      {},
      {
        openBackends: async (context) => {
          const backends = await openEmbeddedBackends(context);
          const store = new Proxy(backends.store, {
            get(target, property, receiver) {
              if (property === 'search') return () => Promise.reject(new Error(secret));
              const value: unknown = Reflect.get(target, property, receiver);
              return typeof value === 'function'
                ? (value as (...a: unknown[]) => unknown).bind(target)
                : value;
            },
          });
          return { ...backends, store };
        },
      },
    );
    try {
      await server.running.ready;
      const response = await request(server.url)
        .post('/v1/search')
        .set('X-Request-Id', 'boom-1')
        .send({ query: 'cat' });
      expect(response.status).toBe(500);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body).toEqual({
        type: `${PROBLEM_BASE}internal-error`,
        title: 'Internal server error',
        status: 500,
        detail: expect.any(String) as string,
        instance: 'boom-1',
      });
      expect(response.text).not.toContain('hunter2');
      expect(response.text).not.toMatch(/at .*\.ts:\d+/);
      const logged = server.logs.find(
        (entry) => entry.message === 'Unhandled error' && entry.requestId === 'boom-1',
      );
      expect(logged?.stack).toEqual(expect.stringContaining(secret));
      await request(server.url).get('/healthz').expect(200);
    } finally {
      await server.close();
    }
  });
});

describe('serve: corpus at start, restart, imageUrl with IMAGE_URL_ALLOW_PRIVATE, graceful stop', () => {
  let corpus: string;
  let dataDir: string;
  const images = ['chelsea.png', 'rocket.jpg', 'moon.png'];

  beforeAll(async () => {
    corpus = await mkdtemp(path.join(os.tmpdir(), 'clip-search-corpus-'));
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'clip-search-data-'));
    for (const image of images) await copyFile(path.join(PHOTOS, image), path.join(corpus, image));
    await writeFile(path.join(corpus, 'broken.png'), 'not an image');
  });
  afterAll(async () => {
    await rm(corpus, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  const start = (): Promise<TestServer> =>
    startTestServer(
      { CORPUS_DIR: corpus, IMAGE_URL_ALLOW_PRIVATE: 'true' },
      { dataDir, indexCorpusAtStart: true },
    );

  it('indexes the corpus folder at start, then skips unchanged files on restart', async () => {
    const first = await start();
    try {
      await first.running.ready;
      const job = await waitForCorpusJob(first.url);
      expect(job).toMatchObject({ state: 'completed', total: 4, skipped: 0, failed: 1 });
      expect(job.source).toBe(`file://${corpus}/`);
      expect(((await request(first.url).get('/v1/stats').expect(200)).body as { items: number }).items).toBe(
        3,
      );
    } finally {
      await first.close();
    }
    const second = await start();
    try {
      await second.running.ready;
      const job = await waitForCorpusJob(second.url);
      expect(job).toMatchObject({ state: 'completed', total: 4, skipped: 3, failed: 1 });
      expect(((await request(second.url).get('/v1/stats').expect(200)).body as { items: number }).items).toBe(
        3,
      );
    } finally {
      await second.close();
    }
  });

  it('fetches an imageUrl from a local server when private addresses are allowed', async () => {
    const origin = await startOrigin();
    const server = await start();
    try {
      await server.running.ready;
      await waitForCorpusJob(server.url);
      const response = await request(server.url)
        .post('/v1/search')
        .send({ query: [{ imageUrl: `${origin.url}/cat.png` }], k: 1 })
        .expect(200);
      const [top] = (response.body as { results: { uri: string; score: number }[] }).results;
      expect(top?.uri).toBe(`file://${corpus}/chelsea.png`);
      expect(top?.score).toBeGreaterThan(0.999);
      expect(origin.hits()).toBe(1);
    } finally {
      origin.close();
      await server.close();
    }
  });

  it('finishes requests in flight at shutdown, then refuses new connections', async () => {
    const server = await start();
    let closing: Promise<void> | undefined;
    // The origin starts the shutdown while the search request is waiting on it, then answers.
    const origin = await startOrigin(async () => {
      closing = server.running.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    try {
      await server.running.ready;
      await waitForCorpusJob(server.url);
      const response = await request(server.url)
        .post('/v1/search')
        .send({ query: [{ imageUrl: `${origin.url}/cat.png` }], k: 1 });
      expect(response.status).toBe(200);
      expect(closing).toBeDefined();
      await closing;
      await expect(request(server.url).get('/healthz')).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      origin.close();
      await server.close();
    }
  });
});
