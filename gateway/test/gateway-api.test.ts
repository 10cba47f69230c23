import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createOnnxEmbedder } from '@clip-search/embedder-onnx';
import { loadConfig } from '@clip-search/config';
import request from 'supertest';
import {
  CORPUS_BROKEN,
  CORPUS_IMAGES,
  folderUri,
  makeCorpus,
  PHOTOS,
  startTestServer,
  TINY_CLIP,
  waitForJob,
  type TestServer,
} from './helpers/gateway-harness';

jest.setTimeout(120_000);

const PROBLEM_BASE = 'https://clip-search.dev/problems/';

interface Result {
  id: string;
  uri: string;
  score: number;
  width: number;
  height: number;
  metadata?: Record<string, unknown>;
  imageUrl?: string;
  thumbnailUrl?: string;
}
interface SearchBody {
  results: Result[];
  tookMs: number;
  queryTruncated: boolean;
}

/** Asserts an RFC 9457 problem response: content type, stable type URI, status, detail, request id. */
function expectProblem(response: request.Response, status: number, slug: string, detail?: RegExp): void {
  expect({ status: response.status, body: response.body as unknown }).toMatchObject({
    status,
    body: {
      type: `${PROBLEM_BASE}${slug}`,
      status,
      title: expect.any(String) as string,
      detail: expect.any(String) as string,
    },
  });
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect((response.body as { instance?: string }).instance).toBe(response.headers['x-request-id']);
  if (detail !== undefined) expect((response.body as { detail: string }).detail).toMatch(detail);
}

const uriOf = (corpus: string, file: string) => folderUri(path.join(corpus, file));

describe('gateway HTTP API (tiny-clip, embedded store and queue)', () => {
  let corpus: string;
  let outside: string;
  let server: TestServer;
  let api: () => request.Agent;
  let firstJobId: string;
  /** Item id of each corpus image, by file name relative to the corpus. */
  const ids: Record<string, string> = {};

  const search = async (body: Record<string, unknown>): Promise<SearchBody> => {
    const response = await api().post('/v1/search').send(body);
    if (response.status !== 200)
      throw new Error(`search ${JSON.stringify(body).slice(0, 200)}: ${response.status} ${response.text}`);
    return response.body as SearchBody;
  };

  /** A GET whose body (an image) is collected into a Buffer. */
  const getBytes = (url: string) =>
    api()
      .get(url)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          done(null, Buffer.concat(chunks));
        });
      });

  beforeAll(async () => {
    corpus = await makeCorpus();
    outside = await mkdtemp(path.join(os.tmpdir(), 'clip-search-outside-'));
    server = await startTestServer({
      CORPUS_DIR: corpus,
      MAX_UPLOAD_BYTES: String(2 * 1024 * 1024),
      MAX_BODY_BYTES: String(4 * 1024 * 1024),
      // One test client sends more searches than a person would: rate limits have their own tests.
      RATE_LIMIT_SEARCH_PER_SECOND: '0',
      RATE_LIMIT_INGEST_PER_SECOND: '0',
    });
    api = () => request.agent(server.url);
    await server.running.ready;
  });

  afterAll(async () => {
    await server.close();
    await rm(corpus, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  describe('health, docs and request ids', () => {
    it('answers /healthz and /readyz', async () => {
      expect((await api().get('/healthz').expect(200)).body).toEqual({ status: 'ok' });
      const ready = await api().get('/readyz').expect(200);
      expect(ready.body).toMatchObject({ status: 'ready', embedder: { ok: true }, store: { ok: true } });
    });

    it('serves the OpenAPI document and Swagger UI', async () => {
      const spec = await api().get('/openapi.json').expect(200).expect('content-type', /json/);
      const paths = Object.keys((spec.body as { paths: Record<string, unknown> }).paths);
      expect(paths).toEqual(
        expect.arrayContaining([
          '/v1/search',
          '/v1/search/image',
          '/v1/items/{id}',
          '/v1/items/{id}/similar',
          '/v1/items/{id}/image',
          '/v1/items/{id}/thumbnail',
          '/v1/ingest',
          '/v1/ingest/{id}',
          '/v1/stats',
          '/healthz',
          '/readyz',
        ]),
      );
      await api().get('/docs').expect(301).expect('location', '/docs/');
      const docs = await api().get('/docs/').expect(200).expect('content-type', /html/);
      expect(docs.text).toContain('swagger-ui');
      const init = await api().get('/docs/swagger-ui-init.js').expect(200);
      expect(init.text).toContain('/v1/search');
    });

    it('echoes a sane X-Request-Id and replaces anything else', async () => {
      const echoed = await api().get('/healthz').set('X-Request-Id', 'trace-abc.123:4').expect(200);
      expect(echoed.headers['x-request-id']).toBe('trace-abc.123:4');
      for (const bad of ['has spaces in it', 'x'.repeat(200), 'quote"d', '']) {
        const replaced = await api().get('/healthz').set('X-Request-Id', bad).expect(200);
        expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      }
      const problem = await api().get('/v1/items/nope').set('X-Request-Id', 'req-42');
      expectProblem(problem, 404, 'not-found');
      expect((problem.body as { instance: string }).instance).toBe('req-42');
    });
  });

  describe('ingestion', () => {
    it('ingests a folder with corrupt files mixed in: 202, Location, per-file errors', async () => {
      const response = await api()
        .post('/v1/ingest')
        .send({ source: folderUri(corpus), metadata: { album: 'test' } });
      expect(response.status).toBe(202);
      const { id } = response.body as { id: string };
      expect(response.headers.location).toBe(`/v1/ingest/${id}`);
      firstJobId = id;
      const job = await waitForJob(server.url, id);
      const valid = Object.keys(CORPUS_IMAGES).length;
      expect(job).toMatchObject({
        state: 'completed',
        total: valid + CORPUS_BROKEN.length,
        processed: valid + CORPUS_BROKEN.length,
        skipped: 0,
        failed: CORPUS_BROKEN.length,
      });
      expect(job.errors.map((e) => e.uri).sort()).toEqual(CORPUS_BROKEN.map((f) => uriOf(corpus, f)).sort());
      for (const error of job.errors) expect(error.reason).not.toBe('');

      const list = await api().get('/v1/ingest').expect(200);
      expect((list.body as { jobs: { id: string }[] }).jobs.map((j) => j.id)).toContain(id);

      // Learn every item id through search (k large enough for the whole corpus).
      const all = await search({ query: 'anything', k: 100 });
      expect(all.results).toHaveLength(valid);
      for (const result of all.results) {
        const file = Object.keys(CORPUS_IMAGES).find((f) => uriOf(corpus, f) === result.uri);
        if (file === undefined) throw new Error(`unexpected result ${result.uri}`);
        ids[file] = result.id;
      }
      expect(Object.keys(ids)).toHaveLength(valid);
    });

    it('refuses sources outside the allowed roots (403) and bad sources (400)', async () => {
      expectProblem(
        await api()
          .post('/v1/ingest')
          .send({ source: folderUri(outside) }),
        403,
        'source-forbidden',
      );
      expectProblem(await api().post('/v1/ingest').send({ source: 'file:///etc' }), 403, 'source-forbidden');
      // The document says which sources this server takes (`^file:///`): anything else is a 422.
      expectProblem(
        await api().post('/v1/ingest').send({ source: 's3://bucket/prefix' }),
        422,
        'validation-failed',
      );
      expectProblem(
        await api()
          .post('/v1/ingest')
          .send({ source: folderUri(path.join(corpus, 'missing')) }),
        400,
        'invalid-source',
      );
      const invalid = await api().post('/v1/ingest').send({ source: 42 });
      expectProblem(invalid, 422, 'validation-failed');
      expect((invalid.body as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual([
        'source',
      ]);
    });

    it('answers 404 for unknown jobs', async () => {
      expectProblem(await api().get('/v1/ingest/no-such-job'), 404, 'not-found');
      expectProblem(await api().post('/v1/ingest/no-such-job/cancel'), 404, 'not-found');
    });
  });

  describe('search', () => {
    it('searches by text: sorted by score, k results, every field', async () => {
      const body = await search({ query: 'a cat on a sofa', k: 4 });
      expect(body.results).toHaveLength(4);
      expect(body.queryTruncated).toBe(false);
      expect(typeof body.tookMs).toBe('number');
      const scores = body.results.map((r) => r.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
      const [first] = body.results;
      expect(first).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{32}$/) as string,
        uri: expect.stringMatching(/^file:\/\//) as string,
        score: expect.any(Number) as number,
        width: expect.any(Number) as number,
        height: expect.any(Number) as number,
        metadata: expect.objectContaining({ album: 'test' }) as object,
        imageUrl: `/v1/items/${first?.id ?? ''}/image`,
        thumbnailUrl: `/v1/items/${first?.id ?? ''}/thumbnail`,
      });
    });

    it('returns only the optional fields asked for', async () => {
      const body = await search({ query: 'cat', k: 2, include: ['metadata'] });
      for (const result of body.results) {
        expect(Object.keys(result).sort()).toEqual(['height', 'id', 'metadata', 'score', 'uri', 'width']);
      }
      const bare = await search({ query: 'cat', k: 2, include: [] });
      expect(Object.keys(bare.results[0] ?? {}).sort()).toEqual(['height', 'id', 'score', 'uri', 'width']);
    });

    it('flags a text longer than the model context', async () => {
      const body = await search({ query: Array.from({ length: 200 }, (_, i) => `word${i}`).join(' '), k: 1 });
      expect(body.queryTruncated).toBe(true);
    });

    it('finds an uploaded image itself at the top with score ≈ 1 (multipart)', async () => {
      const response = await api()
        .post('/v1/search/image')
        .attach('image', path.join(PHOTOS, 'chelsea.png'))
        .field('k', '3')
        .expect(200);
      const [top] = (response.body as SearchBody).results;
      expect(top?.id).toBe(ids['chelsea.png']);
      expect(top?.score).toBeGreaterThan(0.999);
      expect(top?.score).toBeLessThanOrEqual(1);
      expect((response.body as SearchBody).results).toHaveLength(3);
    });

    it('mixes an uploaded image with a text field', async () => {
      const response = await api()
        .post('/v1/search/image')
        .attach('image', path.join(PHOTOS, 'rocket.jpg'))
        .field('text', 'a rocket launch')
        .field('k', '2')
        .expect(200);
      expect((response.body as SearchBody).results).toHaveLength(2);
    });

    it('finds an image sent as base64 (plain and as a data URL)', async () => {
      const bytes = await readFile(path.join(PHOTOS, 'coffee.png'));
      for (const imageBase64 of [
        bytes.toString('base64'),
        `data:image/png;base64,${bytes.toString('base64')}`,
      ]) {
        const body = await search({ query: [{ imageBase64 }], k: 1 });
        expect(body.results[0]?.id).toBe(ids['coffee.png']);
        expect(body.results[0]?.score).toBeGreaterThan(0.999);
      }
    });

    it('searches by item id, and by a raw vector equal to a text embedding', async () => {
      const byItem = await search({ query: [{ itemId: ids['moon.png'] }], k: 1 });
      expect(byItem.results[0]?.id).toBe(ids['moon.png']);
      expect(byItem.results[0]?.score).toBeCloseTo(1, 4);
      // A raw vector term: tiny-clip's text embedding, computed here and scaled, ranks like the text.
      const { embedder } = await createOnnxEmbedder(loadConfig({ CLIP_MODEL_DIR: TINY_CLIP }).embedder, {
        progress: 'none',
      });
      const [text] = await embedder.embedTexts(['a red car']);
      await embedder.close();
      const vector = Array.from(text?.embedding ?? [], (v) => v * 3);
      const byVector = await search({ query: [{ vector }], k: 100 });
      const byText = await search({ query: 'a red car', k: 100 });
      expect(byVector.results.map((r) => r.id)).toEqual(byText.results.map((r) => r.id));
      byVector.results.forEach((result, i) => {
        expect(result.score).toBeCloseTo(byText.results[i]?.score ?? NaN, 5);
      });
    });

    it('combines weighted terms as the normalized weighted sum (negative weights included)', async () => {
      const a = ids['chelsea.png'] ?? '';
      const b = ids['coffee.png'] ?? '';
      const k = Object.keys(CORPUS_IMAGES).length;
      const scoresOf = (body: SearchBody) => new Map(body.results.map((r) => [r.id, r.score]));
      const sa = scoresOf(await search({ query: [{ itemId: a }], k }));
      const sb = scoresOf(await search({ query: [{ itemId: b }], k }));
      const ab = sa.get(b) ?? NaN;
      const [wa, wb] = [1, -0.5];
      const combined = await search({
        query: [
          { itemId: a, weight: wa },
          { itemId: b, weight: wb },
        ],
        k,
      });
      // cos(x, (wa·a + wb·b)/‖…‖) = (wa·x·a + wb·x·b) / sqrt(wa² + wb² + 2·wa·wb·a·b)
      const norm = Math.sqrt(wa * wa + wb * wb + 2 * wa * wb * ab);
      for (const result of combined.results) {
        const expected = (wa * (sa.get(result.id) ?? NaN) + wb * (sb.get(result.id) ?? NaN)) / norm;
        expect(result.score).toBeCloseTo(expected, 4);
      }
      expect(combined.results[0]?.id).toBe(a);
      // The negative term pushes its own item down compared with the plain query.
      const rankOf = (body: SearchBody, id: string) => body.results.findIndex((r) => r.id === id);
      const plain = await search({ query: [{ itemId: a }], k });
      expect(rankOf(combined, b)).toBeGreaterThanOrEqual(rankOf(plain, b));
      expect(combined.results.find((r) => r.id === b)?.score).toBeLessThan(sa.get(b) ?? NaN);
    });

    it('paginates: page 2 continues page 1', async () => {
      const whole = await search({ query: 'a photograph', k: 6 });
      const page1 = await search({ query: 'a photograph', k: 3, offset: 0 });
      const page2 = await search({ query: 'a photograph', k: 3, offset: 3 });
      expect([...page1.results, ...page2.results].map((r) => r.id)).toEqual(whole.results.map((r) => r.id));
      const beyond = await search({ query: 'a photograph', k: 3, offset: 100 });
      expect(beyond.results).toEqual([]);
    });

    it('filters on metadata equality, uri prefix and any-of', async () => {
      const sub = await search({ query: 'animal', k: 50, filter: { folder: 'sub' } });
      expect(sub.results.map((r) => r.id).sort()).toEqual(
        [ids['sub/horse.png'], ids['sub/camera.png']].sort(),
      );
      const prefix = await search({
        query: 'animal',
        k: 50,
        filter: { uri: { prefix: folderUri(path.join(corpus, 'sub')) + '/' } },
      });
      expect(prefix.results.map((r) => r.id).sort()).toEqual(
        [ids['sub/horse.png'], ids['sub/camera.png'], ids['sub/deeper/brick.png']].sort(),
      );
      const anyOf = await search({
        query: 'x',
        k: 50,
        filter: { filename: { in: ['moon.png', 'rocket.jpg'] } },
      });
      expect(anyOf.results.map((r) => r.id).sort()).toEqual([ids['moon.png'], ids['rocket.jpg']].sort());
      const none = await search({ query: 'x', k: 50, filter: { album: 'other' } });
      expect(none.results).toEqual([]);
    });

    it('drops results below minScore', async () => {
      const all = await search({ query: 'the moon at night', k: 50 });
      const third = all.results[2]?.score ?? NaN;
      const high = await search({ query: 'the moon at night', k: 50, minScore: third });
      expect(high.results.length).toBeGreaterThanOrEqual(3);
      expect(high.results.length).toBeLessThan(all.results.length);
      for (const result of high.results) expect(result.score).toBeGreaterThanOrEqual(third);
    });

    it('finds similar items, the item itself excluded, paginated', async () => {
      const id = ids['sub/horse.png'] ?? '';
      const response = await api().get(`/v1/items/${id}/similar`).query({ k: 4 }).expect(200);
      const similar = (response.body as SearchBody).results;
      expect(similar).toHaveLength(4);
      expect(similar.map((r) => r.id)).not.toContain(id);
      const page2 = await api().get(`/v1/items/${id}/similar`).query({ k: 4, offset: 4 }).expect(200);
      const whole = await api().get(`/v1/items/${id}/similar`).query({ k: 8 }).expect(200);
      expect([...similar, ...(page2.body as SearchBody).results].map((r) => r.id)).toEqual(
        (whole.body as SearchBody).results.map((r) => r.id),
      );
      const fields = await api()
        .get(`/v1/items/${id}/similar`)
        .query({ k: 1, include: 'imageUrl' })
        .expect(200);
      expect(Object.keys((fields.body as SearchBody).results[0] ?? {})).toContain('imageUrl');
      expect(Object.keys((fields.body as SearchBody).results[0] ?? {})).not.toContain('metadata');
      expectProblem(await api().get('/v1/items/unknown/similar'), 404, 'not-found');
      expectProblem(
        await api().get(`/v1/items/${id}/similar`).query({ k: 'many' }),
        422,
        'validation-failed',
        /k/,
      );
    });
  });

  describe('items', () => {
    it('describes an item', async () => {
      const id = ids['coins.png'] ?? '';
      const response = await api().get(`/v1/items/${id}`).expect(200);
      expect(response.body).toMatchObject({
        id,
        uri: uriOf(corpus, 'coins.png'),
        width: 384,
        height: 303,
        modelId: 'tiny-clip',
        metadata: { folder: '', filename: 'coins.png', album: 'test' },
        imageUrl: `/v1/items/${id}/image`,
        thumbnailUrl: `/v1/items/${id}/thumbnail`,
      });
    });

    it('streams the original with its content type, ETag and Cache-Control; 304 when current', async () => {
      const id = ids['rocket.jpg'] ?? '';
      const response = await getBytes(`/v1/items/${id}/image`).expect(200);
      expect(response.headers['content-type']).toBe('image/jpeg');
      expect(response.headers['cache-control']).toMatch(/max-age=\d+/);
      const etag = response.headers.etag as string;
      expect(etag).toMatch(/^"[0-9a-f-]+"$/);
      expect(Buffer.compare(response.body as Buffer, await readFile(path.join(corpus, 'rocket.jpg')))).toBe(
        0,
      );
      await api().get(`/v1/items/${id}/image`).set('If-None-Match', etag).expect(304);
      const png = await api()
        .head(`/v1/items/${ids['moon.png'] ?? ''}/image`)
        .expect(200);
      expect(png.headers['content-type']).toBe('image/png');
    });

    it('renders a 256 px JPEG thumbnail, cached on disk', async () => {
      const id = ids['coffee.png'] ?? '';
      const getThumb = () => getBytes(`/v1/items/${id}/thumbnail`);
      const first = await getThumb().expect(200).expect('content-type', 'image/jpeg');
      const bytes = first.body as Buffer;
      expect(jpegSize(bytes)).toEqual({ width: 256, height: 171 }); // coffee.png is 600×400
      const cacheDir = path.join(server.dataDir, 'thumbnails', id.slice(0, 2));
      const cached = (await readdir(cacheDir)).filter((name) => name.startsWith(`${id}-`));
      expect(cached).toHaveLength(1);
      expect(Buffer.compare(await readFile(path.join(cacheDir, cached[0] ?? '')), bytes)).toBe(0);
      const second = await getThumb().expect(200);
      expect(Buffer.compare(second.body as Buffer, bytes)).toBe(0);
      await api()
        .get(`/v1/items/${id}/thumbnail`)
        .set('If-None-Match', first.headers.etag as string)
        .expect(304);
    });

    it('answers 404 problems for unknown items', async () => {
      expectProblem(
        await api().get('/v1/items/0123456789abcdef0123456789abcdef'),
        404,
        'not-found',
        /No item/,
      );
      expectProblem(await api().get('/v1/items/unknown/image'), 404, 'not-found');
      expectProblem(await api().get('/v1/items/unknown/thumbnail'), 404, 'not-found');
      expectProblem(await api().delete('/v1/items/unknown'), 404, 'not-found');
    });

    it('reports stats', async () => {
      const response = await api().get('/v1/stats').expect(200);
      expect(response.body).toEqual({
        items: Object.keys(CORPUS_IMAGES).length,
        model: { id: 'tiny-clip', dim: 512, imageSize: 224, contextLength: 77 },
        embedderBackend: 'onnx',
        storeKind: 'embedded',
        jobs: { queued: 0, active: 0, completed: 1, failed: 0, cancelled: 0 },
      });
    });

    it('deletes an item (204), then it is gone everywhere', async () => {
      const id = ids['page.png'] ?? '';
      await api().get(`/v1/items/${id}/thumbnail`).expect(200);
      const response = await api().delete(`/v1/items/${id}`).expect(204);
      expect(response.text).toBe('');
      expectProblem(await api().get(`/v1/items/${id}`), 404, 'not-found');
      expectProblem(await api().delete(`/v1/items/${id}`), 404, 'not-found');
      const all = await search({ query: 'page of text', k: 100 });
      expect(all.results.map((r) => r.id)).not.toContain(id);
      const cacheDir = path.join(server.dataDir, 'thumbnails', id.slice(0, 2));
      const left = await readdir(cacheDir).catch(() => [] as string[]);
      expect(left.filter((name) => name.startsWith(id))).toEqual([]);
    });

    it('re-ingests skipping unchanged files (the deleted one comes back)', async () => {
      const response = await api()
        .post('/v1/ingest')
        .send({ source: folderUri(corpus) })
        .expect(202);
      const job = await waitForJob(server.url, (response.body as { id: string }).id);
      const valid = Object.keys(CORPUS_IMAGES).length;
      expect(job).toMatchObject({
        state: 'completed',
        total: valid + CORPUS_BROKEN.length,
        skipped: valid - 1,
        failed: CORPUS_BROKEN.length,
      });
      await api()
        .get(`/v1/items/${ids['page.png'] ?? ''}`)
        .expect(200);
      const jobs = (await api().get('/v1/ingest').expect(200)).body as { jobs: { id: string }[] };
      expect(jobs.jobs.map((j) => j.id)).toEqual([job.id, firstJobId]);
    });
  });

  describe('errors are problem+json', () => {
    it('invalid JSON → 400', async () => {
      const response = await api()
        .post('/v1/search')
        .set('Content-Type', 'application/json')
        .send('{"query": ');
      expectProblem(response, 400, 'malformed-body', /JSON/);
    });

    it('schema violations → 422 naming every field', async () => {
      const response = await api().post('/v1/search').send({ query: 'x', k: 0, offset: 1.5, extra: true });
      expectProblem(response, 422, 'validation-failed');
      const fields = (response.body as { errors: { field: string; message: string }[] }).errors.map(
        (e) => e.field,
      );
      expect(fields.sort()).toEqual(['extra', 'k', 'offset']);
      expectProblem(await api().post('/v1/search').send({}), 422, 'validation-failed', /query/);
      expectProblem(await api().post('/v1/search').send({ query: '' }), 422, 'validation-failed', /query/);
      expectProblem(await api().post('/v1/search').send({ query: [] }), 422, 'validation-failed', /query/);
      expectProblem(
        await api()
          .post('/v1/search')
          .send({ query: [{ text: 'a', imageUrl: 'http://x/' }] }),
        422,
        'validation-failed',
        /query/,
      );
      expectProblem(
        await api().post('/v1/search').send({ query: 'x', k: 1000, offset: 9500 }),
        422,
        'validation-failed',
        /offset/,
      );
      expectProblem(
        await api()
          .post('/v1/search')
          .send({ query: [{ vector: [1, 2, 3] }] }),
        422,
        'validation-failed',
        /query\[0\]\.vector: has 3 dimensions/,
      );
      expectProblem(
        await api()
          .post('/v1/search')
          .send({ query: [{ imageBase64: 'not base64!' }] }),
        422,
        'validation-failed',
        /query\[0\]\.imageBase64/,
      );
    });

    it('terms that cancel out → 422', async () => {
      const response = await api()
        .post('/v1/search')
        .send({ query: [{ text: 'a dog' }, { text: 'a dog', weight: -1 }] });
      expectProblem(response, 422, 'zero-query-vector');
    });

    it('unknown item term → 404, unknown route → 404', async () => {
      expectProblem(
        await api()
          .post('/v1/search')
          .send({ query: [{ itemId: 'ghost' }] }),
        404,
        'not-found',
        /query\[0\]\.itemId/,
      );
      expectProblem(await api().get('/v2/nothing'), 404, 'route-not-found', /GET \/v2\/nothing/);
      expectProblem(await api().put('/v1/search'), 405, 'method-not-allowed', /PUT is not allowed/);
      expectProblem(await api().get('/v1/items/%E0%A4%A'), 400, 'malformed-request', /decode/);
    });

    it('wrong body type → 415', async () => {
      expectProblem(
        await api().post('/v1/search').set('Content-Type', 'text/plain').send('cats'),
        415,
        'unsupported-media-type',
      );
      expectProblem(await api().post('/v1/search/image').send({ query: 'x' }), 415, 'unsupported-media-type');
      expectProblem(
        await api().post('/v1/ingest').type('form').send('source=x'),
        415,
        'unsupported-media-type',
      );
    });

    it('unsupported image → 415, corrupt image → 422, missing image → 422', async () => {
      const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>');
      expectProblem(
        await api().post('/v1/search/image').attach('image', svg, 'x.svg'),
        415,
        'unsupported-image',
        /^image: /,
      );
      const corrupt = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(500, 7)]);
      expectProblem(
        await api().post('/v1/search/image').attach('image', corrupt, 'x.png'),
        422,
        'invalid-image',
        /^image: /,
      );
      expectProblem(
        await api()
          .post('/v1/search')
          .send({ query: [{ text: 'ok' }, { imageBase64: corrupt.toString('base64') }] }),
        422,
        'invalid-image',
        /^query\[1\]/,
      );
      expectProblem(await api().post('/v1/search/image').field('k', '3'), 422, 'validation-failed', /image/);
      expectProblem(
        await api().post('/v1/search/image').attach('photo', path.join(PHOTOS, 'moon.png')),
        422,
        'validation-failed',
        /photo/,
      );
      const form = await api()
        .post('/v1/search/image')
        .attach('image', path.join(PHOTOS, 'moon.png'))
        .field('k', '0');
      expectProblem(form, 422, 'validation-failed', /k: must be between 1 and 1000/);
    });

    it('body or upload too large → 413', async () => {
      const huge = { query: 'x'.repeat(5 * 1024 * 1024) };
      expectProblem(await api().post('/v1/search').send(huge), 413, 'payload-too-large', /MAX_BODY_BYTES/);
      const bigFile = Buffer.alloc(3 * 1024 * 1024, 1);
      expectProblem(
        await api().post('/v1/search/image').attach('image', bigFile, 'big.png'),
        413,
        'payload-too-large',
        /MAX_UPLOAD_BYTES/,
      );
      // The server is still fine afterwards.
      await api().get('/healthz').expect(200);
    });

    it('imageUrl to loopback is refused by default (403), before any request is made', async () => {
      let hits = 0;
      const origin = http.createServer((_req, res) => {
        hits++;
        res.end();
      });
      await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = origin.address() as AddressInfo;
        for (const imageUrl of [
          `http://127.0.0.1:${port}/cat.png`,
          `http://localhost:${port}/cat.png`,
          `http://[::ffff:127.0.0.1]:${port}/cat.png`,
          'http://169.254.169.254/latest/meta-data/',
        ]) {
          expectProblem(
            await api()
              .post('/v1/search')
              .send({ query: [{ imageUrl }] }),
            403,
            'image-url-forbidden',
            /query\[0\]/,
          );
        }
        expectProblem(
          await api()
            .post('/v1/search')
            .send({ query: [{ imageUrl: 'file:///etc/passwd' }] }),
          403,
          'image-url-forbidden',
        );
        expect(hits).toBe(0);
      } finally {
        origin.close();
      }
    });
  });

  describe('observability', () => {
    it('exports Prometheus metrics by route template', async () => {
      const id = ids['moon.png'] ?? '';
      await api().get(`/v1/items/${id}`).expect(200);
      const response = await api().get('/metrics').expect(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      const text = response.text;
      expect(text).toMatch(
        /http_request_duration_seconds_count\{method="GET",route="\/v1\/items\/:id",status="200"\} \d+/,
      );
      expect(text).toMatch(
        /http_request_duration_seconds_count\{method="POST",route="\/v1\/search",status="422"\} \d+/,
      );
      expect(text).toMatch(
        /http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} \d+/,
      );
      expect(text).not.toContain(id);
      expect(text).toMatch(/clip_embedding_duration_seconds_count\{modality="text",backend="onnx"\} [1-9]/);
      expect(text).toMatch(/clip_embedding_duration_seconds_count\{modality="image",backend="onnx"\} [1-9]/);
      expect(text).toMatch(/vector_search_duration_seconds_count\{store="embedded"\} [1-9]/);
      expect(text).toMatch(new RegExp(`^vector_store_items ${Object.keys(CORPUS_IMAGES).length}$`, 'm'));
      expect(text).toMatch(/^process_cpu_seconds_total /m);
    });

    it('writes one structured access-log line per request', async () => {
      await api().get('/v1/items/abc/similar').set('X-Request-Id', 'log-check-1');
      const lines = server.logs.filter(
        (entry) => entry.message === 'request' && entry.requestId === 'log-check-1',
      );
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: 'info',
        service: 'gateway',
        method: 'GET',
        route: '/v1/items/:id/similar',
        status: 404,
        durationMs: expect.any(Number) as number,
      });
    });
  });
});

/** Width and height from a JPEG's SOF marker. */
function jpegSize(bytes: Buffer): { width: number; height: number } | undefined {
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1] ?? 0;
    const length = bytes.readUInt16BE(at + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return { height: bytes.readUInt16BE(at + 5), width: bytes.readUInt16BE(at + 7) };
    at += 2 + length;
  }
  return undefined;
}
