/**
 * The gateway on Milvus (VECTOR_STORE=milvus) against a real Milvus (2.3 standalone from .venv-milvus/,
 * started by this file): it opens the model's collection, ingests a folder into it, searches it with a
 * filter, and reports the store it runs on. Skipped, naming the reason, where the venv cannot be built.
 */
import { rm } from 'node:fs/promises';
import { type MilvusServer, prepareMilvusVenv, startMilvusServer } from '@clip-search/store-milvus/testing';
import request from 'supertest';
import {
  CORPUS_BROKEN,
  CORPUS_IMAGES,
  folderUri,
  makeCorpus,
  startTestServer,
  type TestServer,
  waitForJob,
} from './helpers/gateway-harness';

const unavailable = prepareMilvusVenv();
if (unavailable !== undefined) console.warn(`SKIPPED: the gateway on Milvus: ${unavailable}`);
const describeIfAvailable = unavailable === undefined ? describe : describe.skip;

jest.setTimeout(180_000);

describeIfAvailable(`the gateway on Milvus${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let milvus: MilvusServer | undefined;
  let server: TestServer | undefined;
  let corpus: string | undefined;

  beforeAll(async () => {
    const started = await startMilvusServer();
    if ('skipped' in started) throw new Error(started.skipped);
    milvus = started;
    corpus = await makeCorpus();
    server = await startTestServer({
      VECTOR_STORE: 'milvus',
      MILVUS_ADDRESS: milvus.address,
      MILVUS_COLLECTION_PREFIX: 'gateway_',
      INGEST_ROOTS: corpus,
      RATE_LIMIT_SEARCH_PER_SECOND: '0',
    });
    await server.running.ready;
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await milvus?.close();
    if (corpus !== undefined) await rm(corpus, { recursive: true, force: true });
  });

  const url = (): string => {
    if (server === undefined) throw new Error('the gateway did not start');
    return server.url;
  };

  test('ingests a folder into the collection of its model and searches it', async () => {
    const started = await request(url())
      .post('/v1/ingest')
      .send({ source: folderUri(corpus!), metadata: { album: 'milvus' } })
      .expect(202);
    const job = await waitForJob(url(), (started.body as { id: string }).id);
    const images = Object.keys(CORPUS_IMAGES).length;
    expect(job).toMatchObject({ state: 'completed', failed: CORPUS_BROKEN.length });

    const stats = await request(url()).get('/v1/stats').expect(200);
    expect(stats.body).toMatchObject({ items: images, storeKind: 'milvus' });

    const search = await request(url())
      .post('/v1/search')
      .send({ query: 'a cat', k: 3, filter: { album: 'milvus' } })
      .expect(200);
    const { results } = search.body as { results: { uri: string; metadata?: { album?: string } }[] };
    expect(results).toHaveLength(3);
    expect(results.every((hit) => hit.uri.startsWith(folderUri(corpus!)))).toBe(true);
    expect(results.every((hit) => hit.metadata?.album === 'milvus')).toBe(true);
    const none = await request(url())
      .post('/v1/search')
      .send({ query: 'a cat', k: 3, filter: { album: 'elsewhere' } })
      .expect(200);
    expect((none.body as { results: unknown[] }).results).toEqual([]);
    await request(url()).get('/readyz').expect(200);
  });
});
