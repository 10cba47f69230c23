import { rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { MAX_PROBLEM_BYTES } from '../src/http/problem';
import { encodePng } from './helpers/png';
import { folderUri, makeCorpus, startTestServer, type TestServer } from './helpers/gateway-harness';

jest.setTimeout(120_000);

const PROBLEM_BASE = 'https://clip-search.dev/problems/';

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  readonly bytes: number;
}

/** A raw POST (supertest would re-encode the body), with optional headers such as Content-Encoding. */
function post(
  url: string,
  path: string,
  body: Buffer | string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: all.toString(),
            bytes: all.length,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface ProblemBody {
  type: string;
  status: number;
  detail: string;
  errors?: { field: string; message: string }[];
}

/** A bounded problem+json of the given type; returns its body. */
function expectBoundedProblem(reply: Reply, status: number, slug: string): ProblemBody {
  expect({ status: reply.status, bytes: reply.bytes <= MAX_PROBLEM_BYTES }).toEqual({ status, bytes: true });
  expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(reply.text) as ProblemBody;
  expect(body.type).toBe(`${PROBLEM_BASE}${slug}`);
  return body;
}

const nested = (depth: number, leaf: string) => `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;

describe('request limits: every problem is bounded, every cheap check comes first', () => {
  let server: TestServer;
  let corpus: string;

  beforeAll(async () => {
    corpus = await makeCorpus();
    server = await startTestServer({ HTTP_HEADERS_TIMEOUT_MS: '1000', INGEST_ROOTS: corpus });
    await server.running.ready;
  });
  afterAll(async () => {
    await server.close();
    await rm(corpus, { recursive: true, force: true });
  });

  it('refuses a 29 MB text (sent gzipped) with a small problem, without echoing it', async () => {
    const text = '&amp;'.repeat(5_800_000);
    const gzipped = gzipSync(JSON.stringify({ query: text }));
    expect(gzipped.length).toBeLessThan(200_000);
    const reply = await post(server.url, '/v1/search', gzipped, { 'content-encoding': 'gzip' });
    const body = expectBoundedProblem(reply, 422, 'validation-failed');
    expect(body.errors).toEqual([
      { field: 'query', message: expect.stringMatching(/longer than/) as string },
    ]);
    expect(reply.text).not.toContain('&amp;&amp;');
  });

  it('refuses a million-element vector before parsing it, and a long vector before validating it', async () => {
    const million = new Array<number>(1_000_000).fill(0.1);
    const reply = await post(server.url, '/v1/search', JSON.stringify({ query: [{ vector: million }] }));
    expect(expectBoundedProblem(reply, 422, 'validation-failed').errors).toEqual([
      { field: '(body)', message: expect.stringMatching(/^holds more than \d+ JSON values$/) as string },
    ]);
    // Strings do not count: their commas and brackets are not values.
    const quoted = await post(server.url, '/v1/search', JSON.stringify({ query: '[0,'.repeat(3000) }));
    expect(quoted.status).toBe(200);
    const long = new Array<number>(5000).fill(0.1);
    const body = expectBoundedProblem(
      await post(server.url, '/v1/search', JSON.stringify({ query: [{ vector: long }] })),
      422,
      'validation-failed',
    );
    expect(body.errors).toEqual([
      { field: 'query[0].vector', message: 'has 5000 items; at most 4096 are allowed' },
    ]);
  });

  it('answers JSON nested 5,000 deep with a 422, in query, filter and ingest metadata', async () => {
    const deep = nested(5000, '1');
    for (const [path, body] of [
      ['/v1/search', `{"query":[${deep}]}`],
      ['/v1/search', `{"query":"x","filter":${deep}}`],
      ['/v1/ingest', `{"source":"file:///tmp","metadata":${deep}}`],
    ] as const) {
      const problem = expectBoundedProblem(await post(server.url, path, body), 422, 'validation-failed');
      expect(problem.errors?.[0]?.message).toMatch(/nests deeper than|more than \d+ JSON values/);
    }
  });

  it('refuses filters with too many conditions (a 999-key filter was a SQLite 500)', async () => {
    const filter = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    const huge = await post(server.url, '/v1/search', JSON.stringify({ query: 'x', filter: filter(999) }));
    expectBoundedProblem(huge, 422, 'validation-failed');
    const over = await post(server.url, '/v1/search', JSON.stringify({ query: 'x', filter: filter(33) }));
    const body = expectBoundedProblem(over, 422, 'validation-failed');
    expect(body.errors).toEqual([
      { field: 'filter', message: expect.stringMatching(/33 conditions; at most 32/) as string },
    ]);
    const wrong = await post(
      server.url,
      '/v1/search',
      JSON.stringify({ query: 'x', filter: { tag: { in: 'AAA' } } }),
    );
    expect(expectBoundedProblem(wrong, 422, 'validation-failed').errors?.[0]?.field).toBe('filter.tag');
    const fine = await post(server.url, '/v1/search', JSON.stringify({ query: 'x', filter: filter(32) }));
    expect(fine.status).toBe(200);
  });

  it('explains a union mismatch by its alternatives, never with the rejected value', async () => {
    const value = 'v'.repeat(15_000);
    const reply = await post(
      server.url,
      '/v1/search',
      JSON.stringify({ query: [{ text: 'a', extra: value }] }),
    );
    const body = expectBoundedProblem(reply, 422, 'validation-failed');
    expect(reply.text).not.toContain('vvvvvvvvvv');
    expect(body.errors?.[0]?.field).toBe('query');
    expect(body.errors?.[0]?.message).toMatch(/matches none of the forms/);
  });

  it('a request with many invalid fields still gets a bounded problem (the list itself: problem.test.ts)', async () => {
    const terms = Array.from({ length: 16 }, () => ({ text: '', weight: 'heavy' }));
    const reply = await post(
      server.url,
      '/v1/search',
      JSON.stringify({ query: terms, k: -1, offset: -1, minScore: 9, include: ['x'] }),
    );
    const body = expectBoundedProblem(reply, 422, 'validation-failed');
    expect(body.errors?.length).toBeGreaterThan(1);
  });

  it('takes a large base64 image through the search (lifted out of validation and put back)', async () => {
    const noise = new Uint8Array(1200 * 1200 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    const png = encodePng(1200, 1200, 3, noise, 0);
    expect(png.length).toBeGreaterThan(64 * 1024 * 3);
    const reply = await post(
      server.url,
      '/v1/search',
      JSON.stringify({ query: [{ imageBase64: png.toString('base64') }, { text: 'noise', weight: 0.5 }] }),
    );
    expect(reply.status).toBe(200);
    const broken = await post(
      server.url,
      '/v1/search',
      JSON.stringify({ query: [{ imageBase64: `${png.toString('base64')}!` }] }),
    );
    expect(JSON.parse(broken.text)).toMatchObject({
      errors: [{ field: 'query[0].imageBase64', message: 'is not valid base64' }],
    });
  });

  it('checks raw vectors lifted out of validation where they are taken back', async () => {
    const vector = Array.from({ length: 512 }, (_, i) => Math.sin(i));
    const ok = await post(
      server.url,
      '/v1/search',
      JSON.stringify({ query: [{ vector }, { vector, weight: 2 }] }),
    );
    expect(ok.status).toBe(200);
    const bad = await post(
      server.url,
      '/v1/search',
      JSON.stringify({ query: [{ text: 'x' }, { vector: [...vector.slice(1), 'one'] }] }),
    );
    expect(expectBoundedProblem(bad, 422, 'validation-failed').errors).toEqual([
      { field: 'query[1].vector', message: 'must be an array of numbers' },
    ]);
  });

  it('limits ingest metadata (copied into every item): keys, value lengths, total size', async () => {
    const source = folderUri(corpus);
    const big = await post(
      server.url,
      '/v1/ingest',
      JSON.stringify({ source, metadata: { note: 'x'.repeat(2_000_000) } }),
    );
    expectBoundedProblem(big, 413, 'payload-too-large');
    const long = await post(
      server.url,
      '/v1/ingest',
      JSON.stringify({ source, metadata: { note: 'x'.repeat(5000) } }),
    );
    expect(expectBoundedProblem(long, 422, 'validation-failed').errors).toEqual([
      { field: 'metadata.note', message: 'is longer than 1024 characters' },
    ]);
    const keys = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]));
    const many = await post(server.url, '/v1/ingest', JSON.stringify({ source, metadata: keys }));
    expect(expectBoundedProblem(many, 422, 'validation-failed').errors?.[0]?.message).toMatch(/40 keys/);
    const total = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, 'y'.repeat(1000)]));
    const heavy = await post(server.url, '/v1/ingest', JSON.stringify({ source, metadata: total }));
    expect(expectBoundedProblem(heavy, 422, 'validation-failed').errors?.[0]?.message).toMatch(
      /bytes as JSON/,
    );
    const ok = await post(
      server.url,
      '/v1/ingest',
      JSON.stringify({ source, metadata: { album: 'summer' } }),
    );
    expect(ok.status).toBe(202);
  });

  it('answers 405 with Allow for a known path and an unsupported method, 404 for an unknown path', async () => {
    const put = await request(server.url).put('/v1/search').expect(405);
    expect(put.headers.allow).toBe('POST');
    expect((put.body as ProblemBody).type).toBe(`${PROBLEM_BASE}method-not-allowed`);
    const del = await request(server.url).delete('/v1/stats').expect(405);
    expect(del.headers.allow).toBe('GET, HEAD');
    const item = await request(server.url).post('/v1/items/abc').expect(405);
    expect(item.headers.allow).toMatch(/GET/);
    await request(server.url).get('/v1/nothing-here').expect(404);
    // Counted under the route they aimed at, not as unmatched.
    const metrics = await request(server.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(
      /http_request_duration_seconds_count\{method="POST",route="\/v1\/items\/:id",status="405"\} 1/,
    );
  });

  it('refuses JSON in a charset other than UTF-8 with 415', async () => {
    for (const charset of ['latin1', 'utf-16']) {
      const reply = await post(server.url, '/v1/search', JSON.stringify({ query: 'a' }), {
        'content-type': `application/json; charset=${charset}`,
      });
      expectBoundedProblem(reply, 415, 'unsupported-media-type');
    }
    const utf8 = await post(server.url, '/v1/search', JSON.stringify({ query: 'a' }), {
      'content-type': 'application/json; charset=UTF-8',
    });
    expect(utf8.status).toBe(200);
  });

  it('closes a connection whose headers never finish (HTTP_HEADERS_TIMEOUT_MS)', async () => {
    const { port } = new URL(server.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.write('POST /v1/search HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const keepTrickling = setInterval(() => socket.write('a'), 100);
    await new Promise<void>((resolve) => {
      socket.on('close', () => {
        resolve();
      });
    });
    clearInterval(keepTrickling);
    expect(Buffer.concat(received).toString()).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('client aborts and image URL limits', () => {
  let server: TestServer;
  let images: http.Server;
  let imagesUrl: string;

  beforeAll(async () => {
    // An image server that never finishes its answer, so a search waits until its client gives up.
    images = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': '1000' });
      res.write(Buffer.alloc(10));
    });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    imagesUrl = `http://127.0.0.1:${(images.address() as net.AddressInfo).port}`;
    server = await startTestServer({ IMAGE_URL_ALLOW_PRIVATE: 'true', IMAGE_URL_MAX_PER_REQUEST: '2' });
    await server.running.ready;
  });
  afterAll(async () => {
    await server.close();
    images.closeAllConnections();
    await new Promise((resolve) => images.close(resolve));
  });

  it('logs a client that hangs up as 499 at info level, and counts it as 499', async () => {
    const req = http.request(`${server.url}/v1/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'gone-client' },
    });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ query: [{ imageUrl: `${imagesUrl}/slow.png` }] }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    req.destroy();
    const deadline = Date.now() + 10_000;
    const entries = () => server.logs.filter((entry) => entry.requestId === 'gone-client');
    while (!entries().some((e) => e.message === 'request') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const logged = entries();
    expect(logged.find((e) => e.message === 'request')).toMatchObject({ status: 499, level: 'info' });
    expect(logged.filter((e) => e.level === 'error')).toEqual([]);
    const metrics = await request(server.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/http_request_duration_seconds_count\{[^}]*status="499"[^}]*\} 1/);
  });

  it('caps the imageUrl terms of one search (IMAGE_URL_MAX_PER_REQUEST)', async () => {
    const terms = [1, 2, 3].map((i) => ({ imageUrl: `${imagesUrl}/${i}.png` }));
    const reply = await post(server.url, '/v1/search', JSON.stringify({ query: terms }));
    const body = expectBoundedProblem(reply, 422, 'validation-failed');
    expect(body.errors?.[0]).toEqual({
      field: 'query',
      message: 'holds 3 imageUrl terms; at most 2 are allowed',
    });
  });
});
