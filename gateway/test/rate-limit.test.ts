import { formatApiKeyEntry, generateApiKey, hashApiKey } from '@clip-search/config';
import request from 'supertest';
import { startTestServer, type TestServer } from './helpers/gateway-harness';
import { sendPartialUpload } from './helpers/partial-upload';

jest.setTimeout(120_000);

const RATE_LIMITED = 'https://clip-search.dev/problems/rate-limited';

/**
 * Slow refill (one search token every 2 s, one ingest token every 10 s) so that a busy machine cannot
 * refill a bucket between two requests of a test by accident.
 */
const LIMITS = {
  RATE_LIMIT_SEARCH_PER_SECOND: '0.5',
  RATE_LIMIT_SEARCH_BURST: '3',
  RATE_LIMIT_INGEST_PER_SECOND: '0.1',
  RATE_LIMIT_INGEST_BURST: '2',
};

/** A search that fails validation at once: it still costs a token (the limit comes before the body). */
const cheapSearch = (url: string) => request(url).post('/v1/search').send({ query: '' });

/** Requests until the first 429 (at most `max`); the responses in order. */
async function untilLimited(send: () => request.Test, max = 20): Promise<request.Response[]> {
  const responses: request.Response[] = [];
  while (responses.length < max) {
    const response = await send();
    responses.push(response);
    if (response.status === 429) break;
  }
  return responses;
}

describe('rate limits by client address (keys off)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(LIMITS);
    await server.running.ready;
  });
  afterAll(async () => {
    await server.close();
  });

  test('the burst passes with RateLimit headers; then 429 with Retry-After; a wait refills', async () => {
    const responses = await untilLimited(() => cheapSearch(server.url));
    const last = responses[responses.length - 1]!;
    expect(last.status).toBe(429);
    // The bucket starts full: the whole burst passes first.
    expect(responses.slice(0, 3).map((r) => r.status)).toEqual([422, 422, 422]);
    for (const response of responses) expect(response.headers['ratelimit-policy']).toBe('"search";q=3;w=6');
    expect(responses[0]!.headers.ratelimit).toMatch(/^"search";r=2;t=[0-9]+$/);

    expect(last.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(last.body).toMatchObject({ type: RATE_LIMITED, status: 429, title: 'Too many requests' });
    const retryAfter = last.headers['retry-after'];
    expect(retryAfter).toMatch(/^[1-9][0-9]*$/);
    expect(Number(retryAfter)).toBeLessThanOrEqual(2);
    const state = /^"search";r=0;t=([0-9]+)$/.exec(String(last.headers.ratelimit));
    expect(Number(state?.[1])).toBe(Number(retryAfter));

    await new Promise((resolve) => setTimeout(resolve, Number(retryAfter) * 1000 + 100));
    const refilled = await cheapSearch(server.url);
    expect(refilled.status).toBe(422);
    expect(refilled.headers.ratelimit).toMatch(/^"search";r=[0-9];t=[1-9][0-9]*$/);
  });

  test('search and ingest have separate buckets; other routes are not limited', async () => {
    // The search bucket is (nearly) empty after the test above; ingest is untouched.
    const ingests = await untilLimited(() => request(server.url).post('/v1/ingest').send({ source: 42 }));
    expect(ingests.map((r) => r.status)).toEqual([422, 422, 429]);
    expect(ingests[2]!.body).toMatchObject({ type: RATE_LIMITED });
    expect(ingests[0]!.headers['ratelimit-policy']).toBe('"ingest";q=2;w=20');
    expect(ingests[0]!.headers.ratelimit).toMatch(/^"ingest";r=1;t=[0-9]+$/);

    // Reads are not limited and carry no RateLimit fields, even with both buckets empty.
    for (const path of ['/v1/stats', '/v1/ingest', '/healthz']) {
      const response = await request(server.url).get(path).expect(200);
      expect(response.headers.ratelimit).toBeUndefined();
    }
    // "similar" draws from the search bucket.
    const similar = await untilLimited(() => request(server.url).get('/v1/items/abc/similar'));
    expect(similar[similar.length - 1]!.status).toBe(429);
    for (const response of similar) expect(response.headers['ratelimit-policy']).toBe('"search";q=3;w=6');
  });
});

test('a limited upload is refused on its headers, without reading the body', async () => {
  // One token per 1000 s: the bucket cannot refill during the test.
  const server = await startTestServer({
    RATE_LIMIT_SEARCH_PER_SECOND: '0.001',
    RATE_LIMIT_SEARCH_BURST: '1',
  });
  try {
    expect((await cheapSearch(server.url)).status).toBe(422);
    const answer = await sendPartialUpload(server.url, '/v1/search', {});
    expect(answer.status).toBe(429);
    expect(answer.headers.connection).toBe('close');
    expect(answer.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    await answer.closed;
  } finally {
    await server.close();
  }
});

describe('rate limits by key', () => {
  test('each key has its own bucket; 0 disables a limit', async () => {
    const makeKey = (name: string) => {
      const key = generateApiKey();
      return { key, entry: formatApiKeyEntry({ name, scope: 'admin', sha256: hashApiKey(key) }) };
    };
    const a = makeKey('a');
    const b = makeKey('b');
    const server = await startTestServer({
      ...LIMITS,
      RATE_LIMIT_INGEST_PER_SECOND: '0',
      API_KEYS: `${a.entry},${b.entry}`,
    });
    try {
      const search = (key: string) => cheapSearch(server.url).set('X-API-Key', key);
      const limitedA = await untilLimited(() => search(a.key));
      expect(limitedA[limitedA.length - 1]!.status).toBe(429);
      const fromB = await search(b.key);
      expect(fromB.status).toBe(422);
      expect(fromB.headers.ratelimit).toMatch(/^"search";r=2;/);
      // An unauthenticated request is refused before it could use anyone's tokens.
      expect((await cheapSearch(server.url)).status).toBe(401);

      for (let i = 0; i < 5; i++) {
        const ingest = await request(server.url)
          .post('/v1/ingest')
          .set('X-API-Key', a.key)
          .send({ source: 42 });
        expect(ingest.status).toBe(422);
        expect(ingest.headers.ratelimit).toBeUndefined();
      }
    } finally {
      await server.close();
    }
  });
});
