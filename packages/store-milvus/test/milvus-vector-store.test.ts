/**
 * What the Milvus store does beyond the conformance suite, against a real Milvus (2.3 standalone from
 * .venv-milvus/, one server for the file): the collection it creates (name, schema, index, load) and the
 * ones it refuses; each index type serving searches once its segments are sealed and indexed; upserts
 * larger than a gRPC message; random hostile filters, ids and values against matchesFilter on the same
 * items; and Milvus going away and coming back.
 *
 * The server needs .venv-milvus/ (scripts/milvus-server.sh, run here first: instant when up to date).
 * Where it cannot be built, every test here is reported as skipped, naming the reason.
 */
import { LoadState, MilvusClient } from '@zilliz/milvus2-sdk-node';

import {
  BackendUnavailableError,
  type FilterScalar,
  InvalidInputError,
  type ItemRecord,
  type Metadata,
  matchesFilter,
  type MetadataFilter,
  ModelMismatchError,
  type VectorItem,
} from '@clip-search/contracts';
import {
  exactTopK,
  lowRankUnitVectors,
  makeItem,
  MODEL_ID,
  randomUnitVectors,
  recall,
  rowOf,
  scanAll,
  seededRandom,
  unitVectors,
} from '@clip-search/contracts/testing';
import {
  type MilvusIndexOptions,
  type MilvusVectorStore,
  type MilvusVectorStoreOptions,
  openMilvusVectorStore,
} from '../src';
import { type MilvusServer, prepareMilvusVenv, startMilvusServer } from '../src/testing';

const unavailable = prepareMilvusVenv();
if (unavailable !== undefined) console.warn(`SKIPPED: the real-Milvus store tests: ${unavailable}`);
const describeIfAvailable = unavailable === undefined ? describe : describe.skip;

// Index builds, a 68 MB upsert and a restart of Milvus take seconds to tens of seconds.
jest.setTimeout(180_000);

describeIfAvailable(
  `Milvus store against a real Milvus${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let server: MilvusServer | undefined;
    let admin: MilvusClient | undefined;
    const stores: MilvusVectorStore[] = [];

    beforeAll(async () => {
      const started = await startMilvusServer();
      if ('skipped' in started) throw new Error(started.skipped);
      server = started;
      console.info(`Milvus started in ${server.startMs} ms at ${server.address}`);
      admin = new MilvusClient({
        address: server.address,
        timeout: 30_000,
        maxRetries: 0,
        logLevel: 'error',
        __SKIP_CONNECT__: true,
      });
    }, 240_000);

    afterEach(async () => {
      for (const store of stores.splice(0)) await store.close();
    });

    afterAll(async () => {
      await admin?.closeConnection();
      await server?.close();
    });

    const milvus = (): MilvusServer => {
      if (server === undefined) throw new Error('the Milvus server did not start');
      return server;
    };
    const client = (): MilvusClient => {
      if (admin === undefined) throw new Error('the Milvus server did not start');
      return admin;
    };
    const open = async (
      options: Partial<MilvusVectorStoreOptions> & Pick<MilvusVectorStoreOptions, 'dim'>,
    ): Promise<MilvusVectorStore> => {
      const store = await openMilvusVectorStore({ address: milvus().address, modelId: MODEL_ID, ...options });
      stores.push(store);
      return store;
    };

    test('a collection per model: prefix + model id, the schema, the index asked for, loaded', async () => {
      const store = await open({
        dim: 16,
        modelId: 'ViT-B/32@openai',
        collectionPrefix: 'layout_',
        index: { type: 'HNSW', M: 8, efConstruction: 64 },
      });
      expect(store.collection).toBe('layout_ViT_B_32_openai');
      const described = await client().describeCollection({ collection_name: store.collection });
      const fields = Object.fromEntries(
        described.schema.fields.map((field) => [
          field.name,
          { type: field.data_type, primary: field.is_primary_key, params: field.type_params },
        ]),
      );
      expect(fields.id).toMatchObject({ type: 'VarChar', primary: true });
      expect(fields.vector).toMatchObject({
        type: 'FloatVector',
        params: expect.arrayContaining([{ key: 'dim', value: '16' }]) as unknown,
      });
      expect(fields.metadata?.type).toBe('JSON');
      expect(fields.filterable?.type).toBe('JSON');
      expect(JSON.parse(described.schema.description)).toMatchObject({ modelId: 'ViT-B/32@openai', dim: 16 });
      const [index] = (
        await client().describeIndex({ collection_name: store.collection, field_name: 'vector' })
      ).index_descriptions;
      expect(Object.fromEntries(index!.params.map((param) => [param.key, param.value]))).toMatchObject({
        index_type: 'HNSW',
        metric_type: 'IP',
      });
      expect((await client().getLoadState({ collection_name: store.collection })).state).toBe(
        LoadState.LoadStateLoaded,
      );
      expect(await store.health()).toMatchObject({ ok: true });
    });

    test('two stores opening a new collection at once share it', async () => {
      const options = { dim: 8, collection: 'opened_twice' };
      // b reads every write at once (Strong), not only its own: a wrote this one.
      const [a, b] = await Promise.all([open(options), open({ ...options, readYourWritesMs: Infinity })]);
      const [v] = unitVectors(1, 8, 1);
      await a.upsert([makeItem('one', v!)]);
      expect(await b.get(['one'])).toEqual([expect.objectContaining({ id: 'one' }) as unknown]);
    });

    test('a collection of another model or dimension is refused, naming both; so is one clip-search did not create', async () => {
      await open({ dim: 8, modelId: 'model/a', collectionPrefix: 'clash_' });
      // "model_a" makes the same name as "model/a": the description tells them apart.
      const refusals: [Partial<MilvusVectorStoreOptions> & { dim: number }, RegExp[]][] = [
        [{ dim: 8, modelId: 'model_a', collectionPrefix: 'clash_' }, [/model\/a/, /model_a/]],
        [{ dim: 12, modelId: 'model/a', collectionPrefix: 'clash_' }, [/\b8-d/, /\b12-d/]],
      ];
      for (const [options, named] of refusals) {
        const error = await open(options).then(
          () => undefined,
          (reason: unknown) => reason,
        );
        expect(error).toBeInstanceOf(ModelMismatchError);
        for (const name of named) expect((error as Error).message).toMatch(name);
      }
      await client().createCollection({
        collection_name: 'someone_elses',
        fields: [
          { name: 'pk', data_type: 'Int64', is_primary_key: true },
          { name: 'vector', data_type: 'FloatVector', dim: 8 },
        ],
      });
      await expect(open({ dim: 8, collection: 'someone_elses' })).rejects.toThrow(
        /not created by clip-search/,
      );
    });

    describe('each index type serves searches through its index once segments are sealed', () => {
      const DIM = 32;
      const COUNT = 3_000;
      const vectors = lowRankUnitVectors(COUNT, DIM, 31);
      const queries = lowRankUnitVectors(20, DIM, 32);
      const items = Array.from({ length: COUNT }, (_, row) =>
        makeItem(`v-${String(row).padStart(4, '0')}`, rowOf(vectors, DIM, row), {
          metadata: { shard: row % 4 },
        }),
      );
      const cases: [string, MilvusIndexOptions, 'IP' | 'COSINE', number][] = [
        ['HNSW', { type: 'HNSW', M: 16, efConstruction: 128, ef: 64 }, 'IP', 0.95],
        ['HNSW, COSINE', { type: 'HNSW' }, 'COSINE', 0.95],
        ['IVF_FLAT', { type: 'IVF_FLAT', nlist: 32, nprobe: 16 }, 'IP', 0.9],
        ['IVF_SQ8', { type: 'IVF_SQ8', nlist: 32, nprobe: 16 }, 'IP', 0.85],
        ['IVF_PQ', { type: 'IVF_PQ', nlist: 32, nprobe: 16, m: 8 }, 'IP', 0.4],
      ];
      test.each(cases)('%s', async (name, index, metric, minRecall) => {
        const store = await open({
          dim: DIM,
          index,
          metric,
          collection: `index_${name.replace(/\W+/g, '_')}`,
        });
        for (let at = 0; at < COUNT; at += 1_000) await store.upsert(items.slice(at, at + 1_000));
        await sealAndIndex(client(), store.collection, COUNT);
        const [described] = (
          await client().describeIndex({ collection_name: store.collection, field_name: 'vector' })
        ).index_descriptions;
        expect(Object.fromEntries(described!.params.map((param) => [param.key, param.value]))).toMatchObject({
          index_type: index.type,
          metric_type: metric,
        });
        let sum = 0;
        for (let q = 0; q < 20; q++) {
          const query = rowOf(queries, DIM, q);
          const hits = await store.search({ vector: query, k: 10 });
          sum += recall(
            hits.map((hit) => hit.item.id),
            exactTopK(vectors, DIM, query, 10).map((row) => items[row]!.id),
          );
          // Deeper than ef and filtered: the search parameters follow the window.
          const deep = await store.search({ vector: query, k: 300, filter: { shard: 1 } });
          expect(deep.length).toBeGreaterThan(0);
          expect(deep.every((hit) => hit.item.metadata.shard === 1)).toBe(true);
        }
        expect({ name, recall: sum / 20 >= minRecall }).toEqual({ name, recall: true });
      });
    });

    test('an upsert larger than a gRPC message (64 MB) goes in batches; the last of an id wins across them', async () => {
      const DIM = 512;
      const COUNT = 33_000; // 68 MB of float32 alone
      const store = await open({ dim: DIM, collection: 'large_upsert' });
      // A thousand vectors over and over: what matters is the size of the request, not the data.
      const vectors = randomUnitVectors(1_000, DIM, 41);
      const vectorOf = (row: number) => rowOf(vectors, DIM, row % 1_000);
      const items = Array.from({ length: COUNT }, (_, row) =>
        makeItem(`l-${String(row).padStart(5, '0')}`, vectorOf(row), { metadata: { row } }),
      );
      // The first item again at the end, changed: it must be what is stored.
      const last = makeItem('l-00000', vectorOf(1), { metadata: { row: 'last' } });
      await store.upsert([...items, last]);
      expect(await store.count()).toBe(COUNT);
      expect((await store.get(['l-00000']))[0]?.metadata).toEqual({ row: 'last' });
      expect(Array.from((await store.getVector('l-32999'))!)).toEqual(Array.from(vectorOf(32_999)));

      // Small requests: many batches, the same outcome.
      const small = await open({ dim: 8, collection: 'small_batches', maxRequestBytes: 4_096 });
      const smallItems = unitVectors(200, 8, 42).map((vector, i) =>
        makeItem(`s-${i % 150}`, vector, { metadata: { i } }),
      );
      await small.upsert(smallItems);
      expect(await small.count()).toBe(150);
      expect((await small.get(['s-10']))[0]?.metadata).toEqual({ i: 160 });
    });

    test('what Milvus cannot store is refused before anything is written', async () => {
      const store = await open({ dim: 8, collection: 'refusals' });
      const [v] = unitVectors(1, 8, 51);
      const bad: [string, VectorItem][] = [
        ['metadata over 64 KB as JSON', makeItem('b', v!, { metadata: { s: 'x'.repeat(70_000) } })],
        ['a lone surrogate in an id', makeItem('b\uD800', v!)],
        ['a uri over 65,535 bytes', makeItem('b', v!, { uri: 'u'.repeat(65_536) })],
      ];
      for (const [what, item] of bad) {
        const error = await store.upsert([makeItem('good', v!), item]).then(
          () => undefined,
          (reason: unknown) => reason,
        );
        expect({ what, refused: error instanceof InvalidInputError }).toEqual({ what, refused: true });
      }
      expect(await store.count()).toBe(0);
      // An id Milvus cannot hold is simply not there.
      expect(await store.get(['b\uD800'])).toEqual([undefined]);
      expect(await store.delete(['b\uD800'])).toBe(0);
      await expect(store.scan({ limit: 1, after: '\uD800' })).rejects.toThrow(InvalidInputError);
    });

    test('random hostile ids, keys and values: every read agrees with matchesFilter on the same items', async () => {
      const store = await open({ dim: 8, collection: 'hostile_filters' });
      const random = seededRandom(61);
      const vectors = unitVectors(80, 8, 62);
      const keys = Array.from({ length: 6 }, () => hostileString(random) || 'k');
      const values = Array.from({ length: 12 }, () => hostileScalar(random));
      const ids = new Set<string>();
      while (ids.size < 80) ids.add(hostileString(random) || `id-${ids.size}`);
      const items = [...ids].map((id, i) => {
        const metadata: Record<string, unknown> = {};
        for (const key of keys)
          if (random() < 0.6)
            define(
              metadata,
              key,
              random() < 0.85 ? pick(random, values) : pick(random, [null, [1], { a: 1 }]),
            );
        return makeItem(id, vectors[i]!, {
          uri: `${pick(random, ['file:///', 's3://b/'])}${hostileString(random)}`,
          metadata: metadata as Metadata,
        });
      });
      await store.upsert(items);
      const records: ItemRecord[] = items.map(({ vector: _vector, ...record }) => ({
        ...record,
        metadata: JSON.parse(JSON.stringify(record.metadata)) as Metadata,
      }));

      // Ids come back as written, in code point order, and can be read, found and deleted one by one.
      expect((await scanAll(store, 7)).map((record) => record.id)).toEqual([...ids].sort(byCodePoint));
      expect(await store.get([...ids])).toEqual(records);

      const failures: unknown[] = [];
      for (let round = 0; round < 150; round++) {
        const filter: Record<string, unknown> = {};
        const conditions = 1 + Math.floor(random() * 2);
        for (let c = 0; c < conditions; c++) {
          const key =
            random() < 0.15 ? 'uri' : random() < 0.85 ? pick(random, keys) : hostileString(random) || 'x';
          const value = (): FilterScalar => (random() < 0.8 ? pick(random, values) : hostileScalar(random));
          const kind = random();
          define(
            filter,
            key,
            kind < 0.3
              ? value()
              : kind < 0.45
                ? { eq: value() }
                : kind < 0.75
                  ? { prefix: prefixOf(random, key === 'uri' ? pick(random, items).uri : value()) }
                  : { in: [value(), value(), value()].slice(0, Math.floor(random() * 4)) },
          );
        }
        const expected = records.filter((record) => matchesFilter(record, filter as MetadataFilter));
        const count = await store.count(filter as MetadataFilter);
        const scanned = await scanFiltered(store, filter as MetadataFilter);
        const searched = (
          await store.search({ vector: vectors[0]!, k: 80, filter: filter as MetadataFilter })
        ).map((hit) => hit.item.id);
        const want = expected.map((record) => record.id);
        const got = { count, scanned, searched: [...searched].sort(byCodePoint) };
        const wanted = {
          count: want.length,
          scanned: [...want].sort(byCodePoint),
          searched: [...want].sort(byCodePoint),
        };
        if (JSON.stringify(got) !== JSON.stringify(wanted)) failures.push({ filter, got, wanted });
      }
      expect(failures).toEqual([]);

      for (const id of [...ids].slice(0, 20)) {
        expect(await store.getVector(id)).toBeDefined();
        expect(await store.delete([id, id])).toBe(1);
        expect(await store.get([id])).toEqual([undefined]);
      }
      expect(await store.count()).toBe(60);
    });

    test('opening while Milvus does not answer fails with BackendUnavailableError once its time is up', async () => {
      await expect(
        openMilvusVectorStore({ address: '127.0.0.1:1', dim: 8, modelId: MODEL_ID, connectTimeoutMs: 1_500 }),
      ).rejects.toThrow(BackendUnavailableError);
    });

    // Last: it restarts the server.
    test('while Milvus is down: unhealthy, every call refused at once; back up, it recovers by itself', async () => {
      const store = await open({ dim: 8, collection: 'outage', callTimeoutMs: 5_000 });
      const [v, w] = unitVectors(2, 8, 71);
      await store.upsert([makeItem('before', v!)]);
      await milvus().stop();
      expect(await store.health()).toMatchObject({ ok: false });
      const calls: [string, () => Promise<unknown>][] = [
        ['count', () => store.count()],
        ['get', () => store.get(['before'])],
        ['search', () => store.search({ vector: v!, k: 1 })],
        ['scan', () => store.scan({ limit: 1 })],
        ['upsert', () => store.upsert([makeItem('during', w!)])],
        ['delete', () => store.delete(['before'])],
      ];
      const outcomes: { call: string; outcome: string }[] = [];
      for (const [call, run] of calls)
        outcomes.push({
          call,
          outcome: await run().then(
            () => 'resolved',
            (error: unknown) =>
              error instanceof BackendUnavailableError ? 'BackendUnavailableError' : String(error),
          ),
        });
      expect(outcomes).toEqual(calls.map(([call]) => ({ call, outcome: 'BackendUnavailableError' })));
      // Refused without waiting out a deadline: Milvus is known to be unreachable until it answers again.
      await expect(store.count()).rejects.toThrow(/unreachable/);
      expect((await store.health()).detail).toMatch(/unreachable/);

      await milvus().restart();
      const deadline = Date.now() + 120_000;
      while (!(await store.health()).ok) {
        if (Date.now() > deadline) throw new Error('the store did not recover');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      let count: number | undefined;
      while (count === undefined) {
        count = await store.count().catch((error: unknown) => {
          if (!(error instanceof BackendUnavailableError) || Date.now() > deadline) throw error;
          return undefined;
        });
      }
      expect(count).toBe(1);
      await store.upsert([makeItem('after', w!)]);
      expect((await store.get(['before', 'after', 'during'])).map((record) => record?.id)).toEqual([
        'before',
        'after',
        undefined,
      ]);
    });
  },
);

/** Flushes the collection and waits until every loaded segment is sealed, indexed and holds all `rows`. */
async function sealAndIndex(client: MilvusClient, collection: string, rows: number): Promise<void> {
  await client.flushSync({ collection_names: [collection] });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { infos } = await client.getQuerySegmentInfo({ collectionName: collection });
    // Int64s come as strings, whatever the SDK's types say.
    const loaded = infos.reduce((sum, info) => sum + Number(info.num_rows as unknown), 0);
    if (
      loaded === rows &&
      infos.every(
        (info) => String(info.state as unknown) === 'Sealed' && Number(info.indexID as unknown) !== 0,
      )
    )
      return;
    if (Date.now() > deadline)
      throw new Error(`segments of ${collection} not sealed and indexed: ${JSON.stringify(infos)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function scanFiltered(store: MilvusVectorStore, filter: MetadataFilter): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  do {
    const page = await store.scan({ limit: 7, filter, ...(after === undefined ? {} : { after }) });
    ids.push(...page.items.map((record) => record.id));
    after = page.next;
  } while (after !== undefined);
  return ids;
}

const HOSTILE: readonly string[] = [
  '"',
  '\\',
  "'",
  '" or "1"=="1',
  ') or (true',
  '&& ||',
  '\u0000',
  '\n',
  '%_',
  '__proto__',
  'constructor',
  'caf\u00e9',
  'cafe\u0301',
  '\u{1F600}',
  '\u{10FFFF}',
  '\u{FF5E}',
  '~',
  '!0022',
  'filterable["u"]',
];

function hostileString(random: () => number): string {
  let text = '';
  const parts = Math.floor(random() * 4);
  for (let i = 0; i < parts; i++)
    text +=
      random() < 0.6 ? pick(random, HOSTILE) : String.fromCodePoint(0x20 + Math.floor(random() * 0x2000));
  return text;
}

function hostileScalar(random: () => number): FilterScalar {
  const kind = random();
  if (kind < 0.6) return hostileString(random);
  if (kind < 0.85) return pick(random, [0, -0, 1, 1.5, 0.1 + 0.2, 2 ** 62, 5e-324]);
  return random() < 0.5;
}

/** A prefix of a string value (a string itself otherwise, matching none or some). */
function prefixOf(random: () => number, value: FilterScalar): string {
  const text = typeof value === 'string' ? value : String(value);
  return text.slice(0, Math.floor(random() * (text.length + 1)));
}

function pick<T>(random: () => number, from: readonly T[]): T {
  return from[Math.floor(random() * from.length)] as T;
}

/** Sets an own enumerable field, even one named `__proto__`. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
