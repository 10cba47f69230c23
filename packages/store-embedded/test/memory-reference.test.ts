/**
 * The in-memory reference store (MemoryVectorStore) against the embedded store, on the same data: every
 * answer the embedded store gives exactly (counts, scans, gets, deletes, and searches it answers by exact
 * scoring) must be the reference's, to the last bit of each score; searched through HNSW, it must find
 * the reference's top-k; and both refuse the same inputs with the same errors.
 * The prefix edge cases (a value continuing the prefix with U+10FFFF, a prefix holding U+0000) are
 * cases of the VectorStore conformance suite.
 */
import { BackendUnavailableError } from '@clip-search/contracts';
import type { JsonValue, Metadata, MetadataFilter, VectorItem, VectorStore } from '@clip-search/contracts';
import {
  makeItem,
  MemoryVectorStore,
  MODEL_ID,
  recall,
  scanAll,
  seededRandom,
  temporaryDir,
  unitVectors,
} from '@clip-search/contracts/testing';
import { openEmbeddedVectorStore } from '../src';

const DIM = 32;
const COUNT = 600;

type Plan = 'exact' | 'approximate';

/** The outcome of a call, comparable across stores: its value, or its error's class and message. */
async function outcome(call: Promise<unknown>): Promise<unknown> {
  try {
    return { value: await call };
  } catch (error) {
    return { error: (error as Error).constructor.name, message: (error as Error).message };
  }
}

/**
 * Ids in an order that sorts differently by UTF-16 unit and by code point (an astral character against
 * one of U+E000–U+FFFF, after the same prefix), so scan order and `after` are checked where the two
 * orders part.
 */
function idOf(i: number): string {
  const tail = ['', '\u{FF5E}', '\u{1F600}', 'é', ' '][i % 5]!;
  return `it-${String((Math.floor(i / 5) * 7919) % 1000).padStart(3, '0')}${tail}`;
}

/** Seeded metadata with fields of every type, fields that are not filterable, and types that collide. */
function metadataOf(i: number, random: () => number): Metadata {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const metadata: Record<string, JsonValue> = {
    folder: pick(['2024', '2024/summer', '2024/summer/beach', '2025', 'caf\u00e9', '\u{1F600}', '']),
    rating: pick([1, 2, 3, 4, 5, 4.5, 0, -1]),
    tags: ['not', 'filterable'],
    exif: { iso: 100 },
  };
  if (random() < 0.8) metadata.camera = pick(['canon', 'nikon', 'sony', 'Canon']);
  if (random() < 0.7) metadata.favourite = pick([true, false, 1, 'true']);
  if (random() < 0.3) metadata.one = pick(['1', 1, true]);
  if (random() < 0.2) metadata.nothing = null;
  if (random() < 0.1) metadata.uri = 'file:///not/the/uri/';
  if (i % 11 === 0) metadata.zero = -0;
  return metadata;
}

function corpus(seed: number): VectorItem[] {
  const random = seededRandom(seed);
  const vectors = unitVectors(COUNT, DIM, seed);
  return vectors.map((vector, i) => {
    const metadata = metadataOf(i, random);
    // Duplicate images, whose equal scores are ordered by id: here ids that differ by an astral
    // character against one of U+E000–U+FFFF.
    const same = i % 50 === 47 ? vectors[i - 1]! : vector;
    const folder = typeof metadata.folder === 'string' ? metadata.folder : '';
    return makeItem(idOf(i), same, {
      uri: `file:///photos/${folder === '' ? '' : `${folder}/`}${i}.jpg`,
      metadata,
    });
  });
}

const FILTERS: MetadataFilter[] = [
  {},
  { camera: 'canon' },
  { camera: { eq: 'Canon' } },
  { camera: { in: ['nikon', 'sony', 1, true] } },
  { camera: { prefix: 'ca' } },
  { camera: { prefix: '' } },
  { rating: 4 },
  { rating: 4.5 },
  { rating: '4' },
  { rating: { in: [0, -1, '5', true] } },
  { rating: { prefix: '4' } },
  { favourite: true },
  { favourite: 1 },
  { favourite: 'true' },
  { favourite: { in: [true, 1] } },
  { favourite: { prefix: 't' } },
  { one: '1' },
  { one: 1 },
  { one: true },
  { one: { prefix: '1' } },
  { zero: 0 },
  { folder: '' },
  { folder: '2024' },
  { folder: { prefix: '2024/' } },
  { folder: { prefix: 'caf' } },
  { folder: { prefix: '\u{1F600}' } },
  { folder: { in: ['2025', '', 'caf\u00e9'] } },
  { uri: { prefix: 'file:///photos/2024/summer/' } },
  { uri: { prefix: 'file:///not/' } },
  { uri: 'file:///photos/2025/5.jpg' },
  { uri: { in: ['file:///photos/7.jpg', 'file:///photos/2024/3.jpg', 7] } },
  { uri: 1 },
  { tags: 'not' },
  { exif: { prefix: '' } },
  { nothing: { in: ['null', 0, false] } },
  { lens: 'x' },
  { camera: { in: [] } },
  { camera: 'canon', rating: { in: [1, 2, 3] }, uri: { prefix: 'file:///photos/2024' } },
  { camera: { prefix: 'n' }, favourite: false },
];

describe('MemoryVectorStore against the embedded store', () => {
  let tmp: ReturnType<typeof temporaryDir>;
  const stores: VectorStore[] = [];
  let plans: Plan[];

  beforeEach(() => {
    tmp = temporaryDir('memory-reference-');
    plans = [];
  });

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    tmp.remove();
  });

  async function openPair(exactSearchMaxCandidates?: number): Promise<[VectorStore, MemoryVectorStore]> {
    const embedded = await openEmbeddedVectorStore({
      dir: tmp.dir,
      dim: DIM,
      modelId: MODEL_ID,
      ...(exactSearchMaxCandidates === undefined ? {} : { exactSearchMaxCandidates }),
      onSearch: (plan) => plans.push(plan.path),
    });
    const memory = new MemoryVectorStore({ dim: DIM, modelId: MODEL_ID });
    stores.push(embedded, memory);
    return [embedded, memory];
  }

  /** The same writes on both stores: the corpus, some replaced (new vector and metadata), some deleted. */
  async function fill(targets: readonly VectorStore[]): Promise<VectorItem[]> {
    const items = corpus(21);
    const replaced = corpus(22)
      .filter((_, i) => i % 9 === 0)
      .map((item, i) => ({ ...item, id: items[i * 9]!.id }));
    const deleted = items.filter((_, i) => i % 13 === 5).map((item) => item.id);
    for (const store of targets) {
      for (let at = 0; at < items.length; at += 128) await store.upsert(items.slice(at, at + 128));
      await store.upsert(replaced);
      expect(await store.delete([...deleted, deleted[0]!, 'no-such-id'])).toBe(deleted.length);
    }
    return items;
  }

  test('counts, scans, gets, vectors and exactly answered searches agree, filters included', async () => {
    const [embedded, memory] = await openPair();
    const items = await fill([embedded, memory]);
    const random = seededRandom(5);
    const queries = [items[3]!.vector, items[46]!.vector, ...unitVectors(4, DIM, 99)];

    expect(await memory.count()).toBe(await embedded.count());
    expect(await scanAll(memory, 10_000)).toEqual(await scanAll(embedded, 10_000));
    for (const filter of FILTERS) {
      expect([filter, await outcome(memory.count(filter))]).toEqual([
        filter,
        await outcome(embedded.count(filter)),
      ]);
      const limit = 1 + Math.floor(random() * 40);
      let after: string | undefined;
      do {
        const options = { filter, limit, ...(after === undefined ? {} : { after }) };
        const page = await embedded.scan(options);
        expect([filter, await memory.scan(options)]).toEqual([filter, page]);
        after = page.next;
      } while (after !== undefined);
      for (const vector of queries) {
        const k = 1 + Math.floor(random() * 30);
        const offset = Math.floor(random() * 20);
        const request = { vector, k, offset, filter };
        const expected = await embedded.search(request);
        // Scores to the last bit, ties in the same order.
        expect([filter, await memory.search(request)]).toEqual([filter, expected]);
        const minScore = expected.at(-1)?.score ?? 0;
        const above = { vector, k: 40, minScore, filter };
        expect([filter, await memory.search(above)]).toEqual([filter, await embedded.search(above)]);
      }
    }
    // 600 items are below exactSearchMaxCandidates: every search above, unfiltered too, was exact.
    expect(plans.length).toBeGreaterThan(0);
    expect(plans.every((path) => path === 'exact')).toBe(true);

    // Scans resume after any id, stored or not, in code point order.
    for (const after of [
      '',
      'it-5',
      'it-919\u{FF5E}',
      'it-919\u{1F600}',
      'it-919\u{E000}',
      'it-999 ',
      '\u{10FFFF}',
    ])
      expect(await memory.scan({ limit: 7, after })).toEqual(await embedded.scan({ limit: 7, after }));

    const ids = [...items.map((item) => item.id), 'no-such-id', items[0]!.id];
    expect(await memory.get(ids)).toEqual(await embedded.get(ids));
    for (const id of [items[0]!.id, items[5]!.id, items[9]!.id, 'no-such-id'])
      expect(await memory.getVector(id)).toEqual(await embedded.getVector(id));

    const doomed = items.filter((_, i) => i % 4 === 1).map((item) => item.id);
    expect(await memory.delete(doomed)).toBe(await embedded.delete(doomed));
    expect(await memory.delete([])).toBe(await embedded.delete([]));
    expect(await scanAll(memory, 97)).toEqual(await scanAll(embedded, 97));
    expect(await memory.search({ vector: queries[0]!, k: 50 })).toEqual(
      await embedded.search({ vector: queries[0]!, k: 50 }),
    );
    expect((await memory.health()).ok).toBe(true);
  });

  test('searches the embedded store answers through HNSW find the reference top-k', async () => {
    const [embedded, memory] = await openPair(16);
    await fill([embedded, memory]);
    const queries = unitVectors(40, DIM, 123);
    // Broad filters: they leave more than 16 items, so the index is searched for them too.
    const filters: (MetadataFilter | undefined)[] = [
      undefined,
      { camera: { prefix: '' } },
      { rating: { in: [1, 2, 3, 4, 5] } },
    ];
    let found = 0;
    for (const filter of filters) {
      for (const vector of queries) {
        const truth = await memory.search({ vector, k: 10, filter });
        const hits = await embedded.search({ vector, k: 10, filter });
        found += recall(
          hits.map((hit) => hit.item.id),
          truth.map((hit) => hit.item.id),
        );
      }
    }
    expect(plans.every((path) => path === 'approximate')).toBe(true);
    expect(found / (filters.length * queries.length)).toBeGreaterThanOrEqual(0.95);
  });

  test('both refuse the same inputs with the same errors, and write nothing then', async () => {
    const [embedded, memory] = await openPair();
    const [v, w] = unitVectors(2, DIM, 3);
    await Promise.all([embedded, memory].map((store) => store.upsert([makeItem('kept', w!)])));
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const badFilters: unknown[] = [
      null,
      [],
      'camera',
      { a: null },
      { a: { prefix: 3 } },
      { a: { in: 'x' } },
      { a: { in: [null] } },
      { a: { eq: 1, in: [1] } },
      { a: { gt: 1 } },
      { a: Number.POSITIVE_INFINITY },
      { '': 1 },
      Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])),
      { a: { in: Array.from({ length: 4097 }, (_, i) => i) } },
    ];
    const calls: ((store: VectorStore) => Promise<unknown>)[] = [
      (s) => s.upsert({} as never),
      (s) => s.upsert([null as never]),
      (s) => s.upsert([makeItem('', v!)]),
      (s) => s.upsert([makeItem('a', v!, { modelId: 'other' })]),
      (s) => s.upsert([{ ...makeItem('a', v!), width: -1 }]),
      (s) => s.upsert([{ ...makeItem('a', v!), height: 1.5 }]),
      (s) => s.upsert([{ ...makeItem('a', v!), uri: 5 as never }]),
      (s) => s.upsert([{ ...makeItem('a', v!), metadata: [] as never }]),
      (s) => s.upsert([{ ...makeItem('a', v!), metadata: null as never }]),
      (s) => s.upsert([{ ...makeItem('a', v!), metadata: circular as never }]),
      (s) => s.upsert([{ ...makeItem('a', v!), vector: Array.from(v!) as never }]),
      (s) => s.upsert([makeItem('a', new Float32Array(8).fill(Math.SQRT1_2 / 2))]),
      (s) =>
        s.upsert([
          makeItem(
            'a',
            v!.map((x) => x * 2),
          ),
        ]),
      (s) =>
        s.upsert([
          makeItem(
            'a',
            v!.map(() => Number.NaN),
          ),
        ]),
      // A batch with one bad item writes nothing.
      (s) => s.upsert([makeItem('good', v!), makeItem('bad', v!, { modelId: 'other' })]),
      (s) => s.delete('kept' as never),
      (s) => s.delete([1] as never),
      (s) => s.get(null as never),
      (s) => s.get([undefined] as never),
      (s) => s.getVector(3 as never),
      (s) => s.search({ vector: v!, k: 0 }),
      (s) => s.search({ vector: v!, k: 1.5 }),
      (s) => s.search({ vector: v!, k: 5, offset: -1 }),
      (s) => s.search({ vector: v!, k: 10, offset: 9_995 }),
      (s) => s.search({ vector: v!, k: 5, minScore: Number.NaN }),
      (s) => s.search({ vector: v!, k: 5, minScore: '0.5' as never }),
      (s) => s.search({ vector: new Float32Array(8), k: 5 }),
      (s) => s.search({ vector: Array.from(v!) as never, k: 5 }),
      (s) => s.search({ vector: v!.map((x) => x / 2), k: 5 }),
      ...badFilters.flatMap((filter): ((store: VectorStore) => Promise<unknown>)[] => [
        (s) => s.search({ vector: v!, k: 5, filter: filter as never }),
        (s) => s.count(filter as never),
        (s) => s.scan({ limit: 5, filter: filter as never }),
      ]),
      (s) => s.scan({ limit: 0 }),
      (s) => s.scan({ limit: 10_001 }),
      (s) => s.scan({ limit: 2.5 }),
      (s) => s.scan({ limit: 5, after: 5 as never }),
    ];
    for (const [i, call] of calls.entries()) {
      const expected = await outcome(call(embedded));
      expect(expected).toHaveProperty('error');
      expect([i, await outcome(call(memory))]).toEqual([i, expected]);
    }
    expect(await scanAll(memory, 10)).toEqual(await scanAll(embedded, 10));
    expect(await memory.count()).toBe(1);
  });

  test('a closed store rejects every call as the embedded store does', async () => {
    const [embedded, memory] = await openPair();
    const [v] = unitVectors(1, DIM, 4);
    const calls: ((store: VectorStore) => Promise<unknown>)[] = [
      (s) => s.upsert([makeItem('a', v!)]),
      (s) => s.delete(['a']),
      (s) => s.get(['a']),
      (s) => s.getVector('a'),
      (s) => s.count(),
      (s) => s.search({ vector: v!, k: 1 }),
      (s) => s.scan({ limit: 1 }),
    ];
    for (const store of [embedded, memory]) {
      await store.upsert([makeItem('a', v!)]);
      await store.close();
      await store.close();
    }
    for (const call of calls) {
      const expected = await outcome(call(embedded));
      expect(expected).toMatchObject({ error: BackendUnavailableError.name });
      expect(await outcome(call(memory))).toEqual(expected);
    }
    expect(await memory.health()).toEqual(await embedded.health());
  });
});
