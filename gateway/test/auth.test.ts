import { ConfigError } from '@clip-search/contracts';
import {
  formatApiKeyEntry,
  generateApiKey,
  hashApiKey,
  loadConfig,
  type ApiScope,
} from '@clip-search/config';
import request from 'supertest';
import { startTestServer, type TestServer } from './helpers/gateway-harness';
import { sendPartialUpload } from './helpers/partial-upload';

jest.setTimeout(120_000);

const PROBLEM_BASE = 'https://clip-search.dev/problems/';

/** A fresh key and its API_KEYS entry. */
function makeKey(name: string, scope: ApiScope): { key: string; entry: string } {
  const key = generateApiKey();
  return { key, entry: formatApiKeyEntry({ name, scope, sha256: hashApiKey(key) }) };
}

function expectProblem(response: request.Response, status: number, slug: string): void {
  expect({ status: response.status, type: (response.body as { type?: unknown }).type }).toEqual({
    status,
    type: `${PROBLEM_BASE}${slug}`,
  });
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect((response.body as { instance?: unknown }).instance).toBe(response.headers['x-request-id']);
}

describe('API keys', () => {
  const web = makeKey('web', 'search');
  const ops = makeKey('ops', 'admin');
  let server: TestServer;
  const api = () => request(server.url);

  beforeAll(async () => {
    server = await startTestServer({ API_KEYS: `${web.entry},${ops.entry}` });
    await server.running.ready;
  });
  afterAll(async () => {
    await server.close();
  });

  test('no key: 401 problem with a Bearer challenge, on every protected route', async () => {
    for (const [method, path] of [
      ['post', '/v1/search'],
      ['post', '/v1/search/image'],
      ['get', '/v1/stats'],
      ['get', '/v1/items/abc'],
      ['get', '/v1/items/abc/thumbnail'],
      ['get', '/v1/ingest'],
      ['post', '/v1/ingest'],
      ['delete', '/v1/items/abc'],
      ['get', '/v1/no-such-route'],
    ] as const) {
      const response = await api()[method](path);
      expect({ path, status: response.status }).toEqual({ path, status: 401 });
      expectProblem(response, 401, 'authentication-required');
      expect(response.headers['www-authenticate']).toBe('Bearer realm="clip-search"');
    }
  });

  test('an unknown or malformed key: 401 invalid-api-key, invalid_token', async () => {
    for (const headers of [
      { authorization: `Bearer ${generateApiKey()}` },
      { 'x-api-key': 'csk_guess' },
      { authorization: `Basic ${Buffer.from('web:secret').toString('base64')}` },
      { authorization: 'Bearer csk_wrong', 'x-api-key': web.key }, // Authorization is the one used
      { authorization: `Bearer ${hashApiKey(web.key)}` }, // the hash is not the key
    ]) {
      const response = await api().get('/v1/stats').set(headers);
      expectProblem(response, 401, 'invalid-api-key');
      expect(response.headers['www-authenticate']).toBe('Bearer realm="clip-search", error="invalid_token"');
    }
  });

  test('a key is accepted in either header form', async () => {
    await api().get('/v1/stats').set('Authorization', `Bearer ${web.key}`).expect(200);
    await api().get('/v1/stats').set('authorization', `bearer  ${web.key}`).expect(200);
    await api().get('/v1/stats').set('X-API-Key', web.key).expect(200);
    await api()
      .get('/v1/stats')
      .set({ authorization: `Bearer ${web.key}`, 'x-api-key': 'junk' }) // Authorization is the one used
      .expect(200);
    const found = await api()
      .post('/v1/search')
      .set('X-API-Key', web.key)
      .send({ query: 'a cat', k: 3 })
      .expect(200);
    expect(found.body).toMatchObject({ results: [] });
    await api().get('/v1/ingest').set('X-API-Key', web.key).expect(200);
    expectProblem(await api().get('/v1/items/abc').set('X-API-Key', web.key), 404, 'not-found');
  });

  test('a search key on an admin operation: 403 insufficient-scope; an admin key passes', async () => {
    const admin: [string, string, object | undefined][] = [
      ['post', '/v1/ingest', { source: 42 }],
      ['delete', '/v1/items/abc', undefined],
      ['post', '/v1/ingest/abc/cancel', undefined],
    ];
    for (const [method, path, body] of admin) {
      const call = (key: string) => {
        const r = method === 'post' ? api().post(path).send(body) : api().delete(path);
        return r.set('Authorization', `Bearer ${key}`);
      };
      const refused = await call(web.key);
      expectProblem(refused, 403, 'insufficient-scope');
      expect(refused.headers['www-authenticate']).toBe(
        'Bearer realm="clip-search", error="insufficient_scope", scope="admin"',
      );
      // Past authorization: the operation itself answers (invalid body, no such item / job).
      const allowed = await call(ops.key);
      expect({ path, status: allowed.status }).toEqual({
        path,
        status: path === '/v1/ingest' ? 422 : 404,
      });
    }
    // admin implies search
    await api().get('/v1/stats').set('X-API-Key', ops.key).expect(200);
  });

  test('probes, docs, the spec and metrics stay open', async () => {
    await api().get('/healthz').expect(200);
    await api().get('/readyz').expect(200);
    await api().get('/metrics').expect(200);
    await api().get('/docs/').expect(200);
    const spec = await api().get('/openapi.json').expect(200);
    // Open even with a bad key: probes must not fail over a stale header.
    await api().get('/healthz').set('X-API-Key', 'csk_wrong').expect(200);

    const body = spec.body as {
      components: { securitySchemes: Record<string, unknown> };
      paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
    };
    expect(body.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }) as unknown,
      api_key: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-API-Key' }) as unknown,
    });
    expect(body.paths['/v1/search']?.post?.security).toEqual([
      { api_key: ['search'] },
      { bearer: ['search'] },
    ]);
    expect(body.paths['/v1/ingest']?.post?.security).toEqual([{ api_key: ['admin'] }, { bearer: ['admin'] }]);
    expect(body.paths['/healthz']?.get?.security ?? []).toEqual([]);
  });

  test('an unauthenticated upload is refused on its headers, without reading the body', async () => {
    for (const headers of [{}, { 'x-api-key': 'csk_wrong' }]) {
      const answer = await sendPartialUpload(server.url, '/v1/search', headers);
      expect(answer.status).toBe(401);
      expect(answer.headers.connection).toBe('close');
      expect(answer.headers['www-authenticate']).toMatch(/^Bearer realm="clip-search"/);
      expect(JSON.parse(answer.body)).toMatchObject({ status: 401 });
      // The server hangs up rather than reading (and discarding) the 30 MB still announced.
      await answer.closed;
    }
    const upload = await sendPartialUpload(server.url, '/v1/search/image', {
      'content-type': 'multipart/form-data; boundary=x',
    });
    expect(upload.status).toBe(401);
    await upload.closed;
  });

  test('the access log names the key, never the key itself', async () => {
    await api().get('/v1/stats').set('X-API-Key', ops.key).set('X-Request-Id', 'auth-log-1').expect(200);
    await api().get('/v1/stats').set('X-Request-Id', 'auth-log-2').expect(401);
    const line = (id: string) => server.logs.find((l) => l.message === 'request' && l.requestId === id);
    expect(line('auth-log-1')).toMatchObject({ client: 'key:ops', status: 200 });
    expect(line('auth-log-2')).toMatchObject({ client: 'ip:127.0.0.1', status: 401 });
    const everything = JSON.stringify(server.logs);
    expect(everything).not.toContain(ops.key);
    expect(everything).not.toContain(web.key);
  });
});

describe('binding beyond loopback', () => {
  test('without keys: a ConfigError that says to set API_KEYS or AUTH=none', () => {
    let error: unknown;
    try {
      loadConfig({ HOST: '0.0.0.0' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/API_KEYS[\s\S]*AUTH=none/);
  });

  test('with AUTH=none: served without keys', async () => {
    const server = await startTestServer({ HOST: '0.0.0.0', AUTH: 'none' });
    try {
      await server.running.ready;
      const url = server.url.replace('0.0.0.0', '127.0.0.1');
      await request(url).get('/v1/stats').expect(200);
      await request(url).delete('/v1/items/abc').expect(404);
    } finally {
      await server.close();
    }
  });
});
