import http from 'node:http';
import os from 'node:os';
import { ClipEmbedder } from '@clip-search/clip';
import request from 'supertest';
import { flatGreyPng } from '@clip-search/contracts/testing';
import { startTestServer, type TestServer } from './helpers/gateway-harness';

jest.setTimeout(60_000);

const PROBLEM_BASE = 'https://clip-search.dev/problems/';

interface ProblemBody {
  readonly type: string;
  readonly status: number;
  readonly detail: string;
}

function expectInvalidImage(response: request.Response, detail: RegExp): void {
  expect(response.status).toBe(422);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.body as ProblemBody;
  expect(body.type).toBe(`${PROBLEM_BASE}invalid-image`);
  expect(body.detail).toMatch(detail);
}

/** A flat grey PNG (any size in under a second, without an image library in the gateway's tests). */
const flatPng = (width: number, height: number) => flatGreyPng(width, height, 128);

async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function clipEmbedderOf(server: TestServer): ClipEmbedder {
  const { embedder } = server.running.container.backends.require();
  if (!(embedder instanceof ClipEmbedder)) throw new Error('the test server runs a ClipEmbedder');
  return embedder;
}

/** How many images the server has started to preprocess (the Prometheus histogram's count). */
async function preprocessCount(server: TestServer): Promise<number> {
  const text = (await request(server.url).get('/metrics').expect(200)).text;
  const match = /^clip_image_preprocess_duration_seconds_count(?:\{[^}]*\})? (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}

describe('image limits under the default configuration', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
    await server.running.ready;
  });
  afterAll(async () => {
    await server.close();
  });

  it('refuses a 1 x 99,999,999 PNG (194 kB, under MAX_IMAGE_PIXELS) from its header, at once', async () => {
    const tall = await flatGreyPng(1, 99_999_999);
    const started = performance.now();
    const response = await request(server.url).post('/v1/search/image').attach('image', tall, 'tall.png');
    // Decoding it took about two minutes of a core; refusing it takes milliseconds (generous bound).
    expect(performance.now() - started).toBeLessThan(5000);
    expectInvalidImage(response, /^image: .*1x99999999 .*32767-pixel side limit \(MAX_IMAGE_SIDE\)/);
  }, 30_000);

  it('refuses a side over MAX_IMAGE_SIDE and an aspect ratio over MAX_IMAGE_ASPECT_RATIO', async () => {
    const wide = await flatPng(40_000, 1000);
    expectInvalidImage(
      await request(server.url).post('/v1/search/image').attach('image', wide, 'wide.png'),
      /40000x1000 has a side over the 32767-pixel side limit \(MAX_IMAGE_SIDE\)/,
    );
    const strip = await flatPng(30_000, 10);
    expectInvalidImage(
      await request(server.url).post('/v1/search/image').attach('image', strip, 'strip.png'),
      /30000x10 has an aspect ratio of 3000:1, over the 50:1 limit \(MAX_IMAGE_ASPECT_RATIO\)/,
    );
    // The same limits hold for base64 images in JSON queries.
    expectInvalidImage(
      await request(server.url)
        .post('/v1/search')
        .send({ query: [{ imageBase64: strip.toString('base64') }] }),
      /MAX_IMAGE_ASPECT_RATIO/,
    );
  });

  it('still serves a panorama', async () => {
    const panorama = await flatPng(8000, 1000);
    await request(server.url).post('/v1/search/image').attach('image', panorama, 'pano.png').expect(200);
  });
});

describe('IMAGE_DECODE_TIMEOUT_MS', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ IMAGE_DECODE_TIMEOUT_MS: '1' });
    await server.running.ready;
  });
  afterAll(async () => {
    await server.close();
  });

  it('refuses an image whose decode takes longer than the limit, naming it', async () => {
    const big = await flatPng(6000, 6000);
    expectInvalidImage(
      await request(server.url).post('/v1/search/image').attach('image', big, 'big.png'),
      /^image: decoding took longer than the 1 ms limit \(IMAGE_DECODE_TIMEOUT_MS\)/,
    );
  });
});

describe('a client that goes away', () => {
  let server: TestServer;
  /** Valid under this server's lenient limits, and slow: libvips stops it at the 3 s time limit. */
  let slow: Buffer;

  beforeAll(async () => {
    server = await startTestServer({
      MAX_IMAGE_SIDE: '1000000000',
      MAX_IMAGE_ASPECT_RATIO: '1000000000',
      IMAGE_DECODE_TIMEOUT_MS: '3000',
    });
    await server.running.ready;
    slow = await flatGreyPng(1, 30_000_000);
  });
  afterAll(async () => {
    await server.close();
  });

  it('frees the decode queue: its waiting images are never decoded, the next client is served', async () => {
    const embedder = clipEmbedderOf(server);
    const before = await preprocessCount(server);
    // More images than the decode slots (one per core, at least two), so that some have to wait.
    const images = Math.max(2, os.availableParallelism()) + 3;
    const body = JSON.stringify({
      query: Array.from({ length: images }, () => ({ imageBase64: slow.toString('base64') })),
    });
    const url = new URL('/v1/search', server.url);
    const leaving = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
    leaving.on('error', () => undefined); // the socket is destroyed on purpose
    leaving.end(body);
    await until(() => embedder.decodeQueue.waiting > 0);
    const running = embedder.decodeQueue.decoding;
    expect(running + embedder.decodeQueue.waiting).toBe(images);
    leaving.destroy();
    await until(() => embedder.decodeQueue.waiting === 0);

    const small = await flatPng(64, 48);
    await request(server.url).post('/v1/search/image').attach('image', small, 'small.png').expect(200);
    // The decodes that were running when the client left end at their time limit, maybe after the small
    // image (which took the first free slot): count once they are all done.
    await until(() => embedder.decodeQueue.decoding === 0);
    // Only the decodes already running when the client left were done, plus the next client's image.
    expect((await preprocessCount(server)) - before).toBe(running + 1);
    // The abort is an expected event (499 in the access log), not an unhandled error.
    expect(server.logs.filter((entry) => entry.level === 'error')).toEqual([]);
  });
});
