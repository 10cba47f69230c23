/**
 * The conformance suite every VectorStore passes, whatever its backend: upserts, overwrites and deletes as
 * every read sees them, k, offset and minScore, every filter form (with hostile values that must match
 * only literally), pagination that neither repeats nor skips, the shared rules' refusals, concurrent
 * writers, recall against exact search on 20,000 structured vectors, and, where the subject can show them,
 * a refused reopen with another dimension or model and a restart that loses nothing acknowledged.
 *
 * `vectorStoreConformance(subject)` declares a Jest `describe` block; `skip` (a reason) turns it into
 * `describe.skip` with the reason in its title (a Milvus run without a server, say). No case measures
 * time; the stores are small except for the recall corpus.
 */
import { BackendUnavailableError, InvalidInputError, ModelMismatchError } from '../errors/clip-search-error';
import { matchesFilter } from '../vector-store/metadata-filter';
import { MAX_RESULT_WINDOW, type StoreIdentity } from '../vector-store/vector-store-rules';
import type {
  ItemRecord,
  JsonValue,
  Metadata,
  MetadataFilter,
  SearchHit,
  SearchRequest,
  VectorItem,
  VectorStore,
} from '../vector-store/vector-store';
import { MemoryVectorStore } from './memory-vector-store';
import { exactTopK, lowRankUnitVectors, recall, rowOf } from './random-vectors';
import { dot, exactIds, makeItem, scanAll, unitVectors, vectorFor } from './store-fixtures';

export interface VectorStoreSubject {
  /** Shown in the describe title: `embedded (SQLite + HNSW)`, `memory (reference)`… */
  readonly label: string;
  /** A fresh, empty store of this identity, at a location of its own (a directory, a collection). */
  open(identity: StoreIdentity): Promise<VectorStore>;
  /**
   * The location of `store`, which the suite has closed, opened again with `identity`: "the same store
   * again". It holds the same items when the identity is the one it was created with, and is refused with
   * ModelMismatchError, naming both identities, when not. Absent where a store lives only as long as its
   * object (in memory): the reopen case is then listed as skipped.
   */
  reopen?(store: VectorStore, identity: StoreIdentity): Promise<VectorStore>;
  /**
   * Restarts what serves `store` between an acknowledged write and a read: the server, or for an
   * in-process store its owner (close, then open the same location). Resolves to the store to read
   * through: `store` itself when its client reconnects by itself, or the one opened again. Absent when the
   * test cannot restart anything: the restart case is then listed as skipped.
   */
  restart?(store: VectorStore): Promise<VectorStore>;
  /** Removes what `open` created, once the suite is done (the suite closes every store it was given). */
  cleanup?(): Promise<void>;
}

export interface VectorStoreConformanceOptions {
  /** Why the suite cannot run here (shown in the title of the skipped block); undefined runs it. */
  readonly skip?: string;
}

/** The dimension and model of the stores of every case but the large corpus and the reopen case. */
const DIM = 32;
const MODEL = 'conformance-model';
const IDENTITY: StoreIdentity = { dim: DIM, modelId: MODEL };

/** The recall corpus: large enough for an ANN index to be searched, small in dimension to build in seconds. */
const LARGE_COUNT = 20_000;
const LARGE_DIM = 64;
const LARGE_QUERIES = 50;
/** Filtered searches cost a store that tests every item (the in-memory one) the most: fewer of them. */
const FILTERED_QUERIES = 25;
const K = 10;

/**
 * Scores are cosines computed in float32 by some stores and in float64 by others (and by this suite): they
 * agree to this.
 */
const SCORE_TOLERANCE = 1e-5;

export function vectorStoreConformance(
  subject: VectorStoreSubject,
  options: VectorStoreConformanceOptions = {},
): void {
  const title = `VectorStore conformance: ${subject.label}`;
  if (options.skip !== undefined) {
    describe.skip(`${title} (skipped: ${options.skip})`, () => {
      test('every case', () => undefined);
    });
    return;
  }
  describe(title, () => {
    /** Stores a case opened: closed after it (a second close must be harmless). */
    const opened: VectorStore[] = [];
    const track = (store: VectorStore): VectorStore => {
      opened.push(store);
      return store;
    };
    const open = async (identity: StoreIdentity = IDENTITY): Promise<VectorStore> =>
      track(await subject.open(identity));

    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    afterAll(async () => {
      await subject.cleanup?.();
    });

    test('an empty store: nothing counted, found, listed or read; healthy', async () => {
      const store = await open();
      const [v] = unitVectors(1, DIM, 1);
      expect(store.dim).toBe(DIM);
      expect(store.modelId).toBe(MODEL);
      expect(await store.count()).toBe(0);
      expect(await store.count({ camera: 'canon' })).toBe(0);
      expect(await store.search({ vector: v!, k: 10 })).toEqual([]);
      expect(await store.search({ vector: v!, k: 10, offset: 5, minScore: -1 })).toEqual([]);
      expect(await store.search({ vector: v!, k: 10, filter: { camera: { prefix: '' } } })).toEqual([]);
      expect(await store.scan({ limit: 10 })).toEqual({ items: [] });
      expect(await store.scan({ limit: 1, after: 'a', filter: { uri: { prefix: '' } } })).toEqual({
        items: [],
      });
      // Names an object lookup would find on every object's prototype.
      expect(await store.get(['a', '__proto__', 'constructor'])).toEqual([undefined, undefined, undefined]);
      expect(await store.get([])).toEqual([]);
      expect(await store.getVector('__proto__')).toBeUndefined();
      expect(await store.getVector('toString')).toBeUndefined();
      expect(await store.delete(['a', 'constructor'])).toBe(0);
      expect(await store.delete([])).toBe(0);
      await store.upsert([]);
      expect(await store.count()).toBe(0);
      expect((await store.health()).ok).toBe(true);
    });

    test('upsert, then get, getVector and count give back what was written', async () => {
      const store = await open();
      const ids = HOSTILE_IDS;
      const vectors = unitVectors(ids.length, DIM, 2);
      const items = ids.map((id, i) =>
        item(id, vectors[i]!, { uri: `file:///photos/${i}/${id}.jpg`, metadata: richMetadata(i) }),
      );
      await store.upsert(items);
      expect(await store.count()).toBe(items.length);
      const asked = [...ids, 'unknown', ids[0]!, ''];
      expect(await store.get(asked)).toEqual(
        asked.map((id) => {
          const found = items.find((candidate) => candidate.id === id);
          return found && recordOf(found);
        }),
      );
      for (const [i, id] of ids.entries())
        expect({ id, vector: Array.from((await store.getVector(id)) ?? []) }).toEqual({
          id,
          vector: Array.from(vectors[i]!),
        });
      expect(await store.getVector('unknown')).toBeUndefined();
      // What a read returns is the caller's: changing it changes nothing stored.
      const [first] = await store.get([ids[0]!]);
      (first as { uri: string }).uri = 'changed';
      const vector = await store.getVector(ids[0]!);
      vector!.fill(0);
      expect((await store.get([ids[0]!]))[0]).toEqual(recordOf(items[0]!));
      expect(Array.from((await store.getVector(ids[0]!))!)).toEqual(Array.from(vectors[0]!));
    });

    test('upserting an existing id replaces its record, vector and filter fields; in one call the last wins', async () => {
      const store = await open();
      const [a, b, c, d] = unitVectors(4, DIM, 3);
      await store.upsert([
        item('x', a!, { uri: 'file:///old.jpg', metadata: { camera: 'nikon', old: true } }),
      ]);
      await store.upsert([item('y', c!)]);
      const replacement = item('x', b!, { uri: 'file:///new.jpg', metadata: { camera: 'canon' } });
      await store.upsert([replacement]);
      expect(await store.count()).toBe(2);
      expect(await store.get(['x'])).toEqual([recordOf(replacement)]);
      expect(Array.from((await store.getVector('x'))!)).toEqual(Array.from(b!));
      expect(await store.count({ camera: 'nikon' })).toBe(0);
      expect(await store.count({ old: true })).toBe(0);
      expect(await store.count({ camera: 'canon' })).toBe(1);
      expect(await store.count({ uri: 'file:///old.jpg' })).toBe(0);
      const [hit] = await store.search({ vector: b!, k: 1 });
      expect(hit?.item).toEqual(recordOf(replacement));
      expect(hit?.score).toBeCloseTo(1, 5);
      // The old vector is gone from the index too: searching for it finds x only as far as b is like a.
      const byOld = await store.search({ vector: a!, k: 2 });
      expect(byOld.find((h) => h.item.id === 'x')?.score).toBeCloseTo(dot(a!, b!), 5);

      const last = item('z', d!, { uri: 'file:///3.jpg' });
      await store.upsert([
        item('z', a!, { uri: 'file:///1.jpg' }),
        item('z', c!, { uri: 'file:///2.jpg' }),
        last,
      ]);
      expect(await store.count()).toBe(3);
      expect(await store.get(['z'])).toEqual([recordOf(last)]);
      expect(Array.from((await store.getVector('z'))!)).toEqual(Array.from(d!));
    });

    test('delete counts the ids that existed and removes them from every read', async () => {
      const store = await open();
      const items = corpus(60, 4);
      await store.upsert(items);
      const gone = ['c-003', 'c-017', 'c-042'];
      expect(await store.delete([...gone, 'c-017', 'unknown'])).toBe(3);
      expect(await store.delete(gone)).toBe(0);
      expect(await store.delete([])).toBe(0);
      expect(await store.count()).toBe(57);
      expect(await store.count({ set: 'corpus' })).toBe(57);
      expect(await store.get(gone)).toEqual([undefined, undefined, undefined]);
      for (const id of gone) expect(await store.getVector(id)).toBeUndefined();
      const kept = items.filter((candidate) => !gone.includes(candidate.id));
      expect((await scanAll(store, 7)).map((record) => record.id)).toEqual(sortedIds(kept));
      for (const id of gone) {
        const vector = items.find((candidate) => candidate.id === id)!.vector;
        const hits = await store.search({ vector, k: 60 });
        expect(hits.map((h) => h.item.id)).toEqual(exactIds(kept, vector, 60));
        const filtered = await store.search({ vector, k: 60, filter: { set: 'corpus' } });
        expect(filtered.map((h) => h.item.id)).toEqual(exactIds(kept, vector, 60));
      }
      // A deleted id can come back.
      await store.upsert([items[3]!]);
      expect(await store.get(['c-003'])).toEqual([recordOf(items[3]!)]);
      expect((await store.search({ vector: items[3]!.vector, k: 1 }))[0]?.item.id).toBe('c-003');
    });

    test('search: at most k hits, best first, cosine scores, equal scores in id order', async () => {
      const store = await open();
      const items = corpus(120, 5);
      const [shared] = unitVectors(1, DIM, 55);
      // One image under several ids, written out of id order.
      const duplicates = ['dup-c', 'dup-a', 'dup-d', 'dup-b'].map((id) => item(id, shared!));
      const all = [...items, ...duplicates];
      await store.upsert(all);
      const queries = [items[7]!.vector, ...unitVectors(3, DIM, 56)];
      for (const query of queries) {
        for (const k of [1, 10, 37]) {
          const hits = await store.search({ vector: query, k });
          expect(hits.map((h) => h.item.id)).toEqual(exactIds(all, query, k));
          expectScores(hits, all, query);
        }
        const everything = await store.search({ vector: query, k: 500 });
        expect(everything).toHaveLength(all.length);
        expectScores(everything, all, query);
      }
      const self = await store.search({ vector: items[7]!.vector, k: 3 });
      expect(self[0]?.item).toEqual(recordOf(items[7]!));
      expect(self[0]?.score).toBeCloseTo(1, 5);
      const ties = await store.search({ vector: shared!, k: 5 });
      expect(ties.slice(0, 4).map((h) => h.item.id)).toEqual(['dup-a', 'dup-b', 'dup-c', 'dup-d']);
      expect(new Set(ties.slice(0, 4).map((h) => h.score)).size).toBe(1);
      // The opposite of an item's vector finds it last, at -1.
      const opposite = items[9]!.vector.map((x) => -x);
      const last = (await store.search({ vector: opposite, k: all.length })).at(-1);
      expect(last?.item.id).toBe(items[9]!.id);
      expect(last?.score).toBeCloseTo(-1, 5);
    });

    test('search: offset pages continue one another; offsets past the end give nothing', async () => {
      const store = await open();
      const items = corpus(100, 6);
      await store.upsert(items);
      const query = unitVectors(1, DIM, 66)[0]!;
      for (const filter of [undefined, { parity: 'odd' }] as const) {
        const whole = await store.search({ vector: query, k: 80, ...(filter ? { filter } : {}) });
        const pages: SearchHit[] = [];
        for (let offset = 0; offset < 80; offset += 7) {
          const k = Math.min(7, 80 - offset);
          pages.push(...(await store.search({ vector: query, k, offset, ...(filter ? { filter } : {}) })));
        }
        expect(pages.map((h) => h.item.id)).toEqual(whole.map((h) => h.item.id));
      }
      expect(await store.search({ vector: query, k: 10, offset: 100 })).toEqual([]);
      expect(await store.search({ vector: query, k: 10, offset: 5_000 })).toEqual([]);
      const tail = await store.search({ vector: query, k: 10, offset: 97 });
      expect(tail.map((h) => h.item.id)).toEqual(exactIds(items, query, 100).slice(97));
      const odd = items.filter((candidate) => candidate.metadata.parity === 'odd');
      const oddTail = await store.search({ vector: query, k: 10, offset: 48, filter: { parity: 'odd' } });
      expect(oddTail.map((h) => h.item.id)).toEqual(exactIds(odd, query, 50).slice(48));
      // The deepest page the shared rules allow is served.
      expect(await store.search({ vector: query, k: 1, offset: MAX_RESULT_WINDOW - 1 })).toEqual([]);
    });

    test('search: minScore drops weaker hits before the page is cut', async () => {
      const store = await open();
      const items = corpus(80, 7);
      await store.upsert(items);
      const query = items[11]!.vector;
      const all = await store.search({ vector: query, k: 80 });
      const threshold = all[9]!.score;
      const above = all.filter((h) => h.score >= threshold).map((h) => h.item.id);
      expect(above.length).toBeGreaterThanOrEqual(10);
      const ids = async (request: Omit<SearchRequest, 'vector'>): Promise<string[]> =>
        (await store.search({ vector: query, ...request })).map((h) => h.item.id);
      expect(await ids({ k: 80, minScore: threshold })).toEqual(above);
      expect(await ids({ k: 4, offset: 3, minScore: threshold })).toEqual(above.slice(3, 7));
      expect(await ids({ k: 10, offset: above.length, minScore: threshold })).toEqual([]);
      expect(await ids({ k: 80, minScore: -1 })).toEqual(all.map((h) => h.item.id));
      expect(await ids({ k: 5, minScore: 1.5 })).toEqual([]);
      const filtered = await store.search({
        vector: query,
        k: 80,
        minScore: threshold,
        filter: { parity: 'even' },
      });
      expect(filtered.map((h) => h.item.id)).toEqual(
        all.filter((h) => h.score >= threshold && h.item.metadata.parity === 'even').map((h) => h.item.id),
      );
      expect(filtered.every((h) => h.score >= threshold)).toBe(true);
    });

    test('filters: every form, with JSON types, absent fields, and non-scalars that match nothing', async () => {
      const store = await open();
      await expectFilters(store, FILTER_ITEMS, FILTER_CASES);
    });

    test('filters: hostile values and keys match only literally', async () => {
      const store = await open();
      await expectFilters(store, HOSTILE_ITEMS, HOSTILE_CASES);
    });

    test('scan: id order, pages with `after` disjoint and complete, resuming after any id', async () => {
      const store = await open();
      const items = corpus(45, 8);
      // Ids whose UTF-16 order and code point order differ: scans follow code points (UTF-8 bytes).
      const extra = ['c-x\u{FF5E}', 'c-x\u{1F600}', 'c-x\u{E000}', 'c-x', 'C-upper', 'c-x '].map((id, i) =>
        item(id, unitVectors(1, DIM, 80 + i)[0]!, { metadata: { parity: i % 2 === 0 ? 'even' : 'odd' } }),
      );
      const all = [...items, ...extra];
      await store.upsert([...all].reverse());
      const order = sortedIds(all);
      for (const limit of [1, 4, 10, all.length - 1, all.length, all.length + 1]) {
        const pages = await scanPages(store, { limit });
        expect({ limit, ids: pages.flatMap((page) => page.map((record) => record.id)) }).toEqual({
          limit,
          ids: order,
        });
        expect(pages.slice(0, -1).every((page) => page.length === limit)).toBe(true);
        expect(pages.at(-1)!.length).toBeGreaterThan(0);
      }
      const records = await scanAll(store, 10);
      expect(records).toEqual(order.map((id) => recordOf(all.find((candidate) => candidate.id === id)!)));
      const odd = all.filter((candidate) => candidate.metadata.parity === 'odd');
      const oddPages = await scanPages(store, { limit: 3, filter: { parity: 'odd' } });
      expect(oddPages.flat().map((record) => record.id)).toEqual(sortedIds(odd));
      // `after` need not be a stored id.
      for (const after of ['', 'c-', 'c-020', 'c-x\u{F000}', 'c-x\u{1F5FF}', 'c-x\u{10FFFF}', '\u{10FFFF}']) {
        const page = await store.scan({ limit: 5, after });
        expect({ after, ids: page.items.map((record) => record.id) }).toEqual({
          after,
          ids: order.filter((id) => byCodePoint(id, after) > 0).slice(0, 5),
        });
      }
    });

    test('invalid inputs are refused with the shared rules’ errors, and write nothing', async () => {
      const store = await open();
      const [v, w] = unitVectors(2, DIM, 9);
      const kept = item('kept', w!, { metadata: { camera: 'canon' } });
      await store.upsert([kept]);
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const { ingestedAt: _ingestedAt, ...withoutTime } = item('a', v!);
      const doubled = v!.map((x) => x * 2);
      const notANumber = v!.map(() => Number.NaN);
      const badFilters: [string, unknown][] = [
        ['null', null],
        ['an array', []],
        ['a string', 'camera'],
        ['a null condition', { camera: null }],
        ['an array condition', { camera: ['canon'] }],
        ['a non-string prefix', { camera: { prefix: 3 } }],
        ['in over a non-array', { camera: { in: 'canon' } }],
        ['in holding null', { camera: { in: [null] } }],
        ['in holding an object', { camera: { in: [{}] } }],
        ['two operators', { camera: { eq: 'canon', in: ['canon'] } }],
        ['an unknown operator', { rating: { gt: 1 } }],
        ['an empty operator object', { rating: {} }],
        ['Infinity', { rating: Number.POSITIVE_INFINITY }],
        ['NaN in eq', { rating: { eq: Number.NaN } }],
        ['an empty key', { '': 1 }],
        ['33 conditions', Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]))],
        ['4097 values', { camera: { in: Array.from({ length: 4097 }, (_, i) => i) } }],
      ];
      const cases: [string, RefusalClass, () => Promise<unknown>][] = [
        ['upsert of a non-array', InvalidInputError, () => store.upsert({} as never)],
        ['upsert of null', InvalidInputError, () => store.upsert([null as never])],
        ['an empty id', InvalidInputError, () => store.upsert([item('', v!)])],
        ['a numeric id', InvalidInputError, () => store.upsert([{ ...item('a', v!), id: 5 as never }])],
        [
          'another model',
          ModelMismatchError,
          () => store.upsert([item('a', v!, { modelId: 'other-model' })]),
        ],
        [
          'no model',
          ModelMismatchError,
          () => store.upsert([{ ...item('a', v!), modelId: undefined as never }]),
        ],
        ['a negative width', InvalidInputError, () => store.upsert([{ ...item('a', v!), width: -1 }])],
        ['a fractional height', InvalidInputError, () => store.upsert([{ ...item('a', v!), height: 1.5 }])],
        ['a numeric uri', InvalidInputError, () => store.upsert([{ ...item('a', v!), uri: 5 as never }])],
        ['no ingestedAt', InvalidInputError, () => store.upsert([withoutTime as never])],
        [
          'array metadata',
          InvalidInputError,
          () => store.upsert([{ ...item('a', v!), metadata: [] as never }]),
        ],
        [
          'null metadata',
          InvalidInputError,
          () => store.upsert([{ ...item('a', v!), metadata: null as never }]),
        ],
        [
          'circular metadata',
          InvalidInputError,
          () => store.upsert([{ ...item('a', v!), metadata: circular as never }]),
        ],
        [
          'a plain-array vector',
          InvalidInputError,
          () => store.upsert([{ ...item('a', v!), vector: Array.from(v!) as never }]),
        ],
        [
          'a Float64Array vector',
          InvalidInputError,
          () => store.upsert([{ ...item('a', v!), vector: Float64Array.from(v!) as never }]),
        ],
        ['another dimension', ModelMismatchError, () => store.upsert([item('a', unitVectors(1, 8, 1)[0]!)])],
        ['a vector of norm 2', InvalidInputError, () => store.upsert([item('a', doubled)])],
        ['a zero vector', InvalidInputError, () => store.upsert([item('a', new Float32Array(DIM))])],
        ['a NaN vector', InvalidInputError, () => store.upsert([item('a', notANumber)])],
        [
          'a batch with one bad item',
          ModelMismatchError,
          () => store.upsert([item('good', v!), item('bad', v!, { modelId: 'other-model' })]),
        ],
        ['delete of a string', InvalidInputError, () => store.delete('kept' as never)],
        ['delete of a number id', InvalidInputError, () => store.delete(['kept', 1] as never)],
        ['get of null', InvalidInputError, () => store.get(null as never)],
        ['get of undefined ids', InvalidInputError, () => store.get([undefined] as never)],
        ['getVector of a number', InvalidInputError, () => store.getVector(3 as never)],
        ['k = 0', InvalidInputError, () => store.search({ vector: v!, k: 0 })],
        ['k = 1.5', InvalidInputError, () => store.search({ vector: v!, k: 1.5 })],
        ['k = NaN', InvalidInputError, () => store.search({ vector: v!, k: Number.NaN })],
        ['a negative offset', InvalidInputError, () => store.search({ vector: v!, k: 5, offset: -1 })],
        ['a fractional offset', InvalidInputError, () => store.search({ vector: v!, k: 5, offset: 0.5 })],
        [
          'offset + k past the result window',
          InvalidInputError,
          () => store.search({ vector: v!, k: 10, offset: MAX_RESULT_WINDOW - 9 }),
        ],
        ['minScore NaN', InvalidInputError, () => store.search({ vector: v!, k: 5, minScore: Number.NaN })],
        [
          'minScore a string',
          InvalidInputError,
          () => store.search({ vector: v!, k: 5, minScore: '0.5' as never }),
        ],
        [
          'a query of another dimension',
          ModelMismatchError,
          () => store.search({ vector: new Float32Array(8), k: 5 }),
        ],
        [
          'a plain-array query',
          InvalidInputError,
          () => store.search({ vector: Array.from(v!) as never, k: 5 }),
        ],
        [
          'an unnormalized query',
          InvalidInputError,
          () => store.search({ vector: v!.map((x) => x / 2), k: 5 }),
        ],
        ['scan limit 0', InvalidInputError, () => store.scan({ limit: 0 })],
        ['scan limit -1', InvalidInputError, () => store.scan({ limit: -1 })],
        ['scan limit 2.5', InvalidInputError, () => store.scan({ limit: 2.5 })],
        ['scan after a number', InvalidInputError, () => store.scan({ limit: 5, after: 5 as never })],
        ...badFilters.flatMap(([what, filter]): [string, RefusalClass, () => Promise<unknown>][] => [
          [
            `search filter: ${what}`,
            InvalidInputError,
            () => store.search({ vector: v!, k: 5, filter: filter as never }),
          ],
          [`count filter: ${what}`, InvalidInputError, () => store.count(filter as never)],
          [
            `scan filter: ${what}`,
            InvalidInputError,
            () => store.scan({ limit: 5, filter: filter as never }),
          ],
        ]),
      ];
      const outcomes: { case: string; outcome: string }[] = [];
      for (const [what, expected, call] of cases)
        outcomes.push({ case: what, outcome: await refusal(call, expected) });
      expect(outcomes).toEqual(cases.map(([what, expected]) => ({ case: what, outcome: expected.name })));
      expect(await scanAll(store, 10)).toEqual([recordOf(kept)]);
      expect(await store.count()).toBe(1);
      expect((await store.health()).ok).toBe(true);
    });

    test('concurrent writers: the final state is the sequential result', async () => {
      const store = await open();
      const reference = new MemoryVectorStore(IDENTITY);
      const writers = Array.from({ length: 6 }, (_, w) => writerSteps(w));
      // The sequential result: every writer's steps one after the other, each step's writes in order.
      for (const steps of writers)
        for (const step of steps) for (const write of step) await apply(reference, write);

      const known = new Set(
        writers.flat(2).flatMap((write) => ('upsert' in write ? write.upsert.map((i) => i.id) : [])),
      );
      const probe = unitVectors(1, DIM, 90)[0]!;
      const progress = { writing: true };
      let reads = 0;
      // Reads meanwhile never see an id twice or one nobody wrote (collected, not thrown mid-write).
      const misreads: string[][] = [];
      const reader = (async () => {
        while (progress.writing) {
          const ids = (await store.search({ vector: probe, k: 20, filter: { kind: 'written' } })).map(
            (h) => h.item.id,
          );
          if (new Set(ids).size !== ids.length || !ids.every((id) => known.has(id))) misreads.push(ids);
          reads++;
          // A macrotask turn between reads lets the writes' steps interleave with them, as I/O would.
          await new Promise((resolve) => setImmediate(resolve));
        }
      })().catch((error: unknown) => {
        misreads.push([describeError(error)]);
      });
      try {
        // Every writer at once; within a writer, each step's writes (on distinct ids) at once too.
        await Promise.all(
          writers.map(async (steps) => {
            for (const step of steps) await Promise.all(step.map((write) => apply(store, write)));
          }),
        );
      } finally {
        progress.writing = false;
      }
      await reader;
      expect(reads).toBeGreaterThan(0);
      expect(misreads).toEqual([]);

      expect(await store.count()).toBe(await reference.count());
      expect(await scanAll(store, 50)).toEqual(await scanAll(reference, 50));
      const filters: MetadataFilter[] = [{ writer: 'w2' }, { version: 3 }, { version: { in: [1, 2] } }];
      for (const filter of filters)
        expect({ filter, count: await store.count(filter) }).toEqual({
          filter,
          count: await reference.count(filter),
        });
      for (const id of known)
        expect({ id, vector: Array.from((await store.getVector(id)) ?? []) }).toEqual({
          id,
          vector: Array.from((await reference.getVector(id)) ?? []),
        });
      for (const query of [probe, ...unitVectors(2, DIM, 91)]) {
        const want = await reference.search({ vector: query, k: 25 });
        const got = await store.search({ vector: query, k: 25 });
        expect(got.map((h) => h.item)).toEqual(want.map((h) => h.item));
      }
    });

    test('a closed store refuses every call with BackendUnavailableError; closing again is harmless', async () => {
      const store = await open();
      const [v] = unitVectors(1, DIM, 10);
      await store.upsert([item('a', v!)]);
      await store.close();
      await store.close();
      const calls: [string, () => Promise<unknown>][] = [
        ['upsert', () => store.upsert([item('b', v!)])],
        ['delete', () => store.delete(['a'])],
        ['get', () => store.get(['a'])],
        ['getVector', () => store.getVector('a')],
        ['count', () => store.count()],
        ['search', () => store.search({ vector: v!, k: 1 })],
        ['scan', () => store.scan({ limit: 1 })],
      ];
      const outcomes: { call: string; outcome: string }[] = [];
      for (const [call, run] of calls)
        outcomes.push({ call, outcome: await refusal(run, BackendUnavailableError) });
      expect(outcomes).toEqual(calls.map(([call]) => ({ call, outcome: BackendUnavailableError.name })));
      expect((await store.health()).ok).toBe(false);
    });

    const reopenCase = subject.reopen ? test : test.skip;
    reopenCase(
      `reopened with another dimension or model: refused, the message naming both${subject.reopen ? '' : ' (the subject cannot reopen a store)'}`,
      async () => {
        const reopen = subject.reopen!.bind(subject);
        const first = { dim: 24, modelId: 'conformance-model-a' };
        let store = await open(first);
        const items = unitVectors(3, 24, 11).map((vector, i) =>
          item(`m-${i}`, vector, { modelId: first.modelId }),
        );
        await store.upsert(items);
        await store.close();
        const refusals: [StoreIdentity, RegExp[]][] = [
          [{ dim: 40, modelId: first.modelId }, [/\b24\b/, /\b40\b/]],
          [{ dim: 24, modelId: 'conformance-model-b' }, [/conformance-model-a/, /conformance-model-b/]],
          [
            { dim: 40, modelId: 'conformance-model-b' },
            [/\b24\b/, /\b40\b/, /conformance-model-a/, /conformance-model-b/],
          ],
        ];
        for (const [identity, named] of refusals) {
          const error = await reopen(store, identity).then(
            (opened) => {
              track(opened);
              return undefined;
            },
            (reason: unknown) => reason,
          );
          expect({ identity, refused: error instanceof ModelMismatchError }).toEqual({
            identity,
            refused: true,
          });
          for (const name of named) expect((error as Error).message).toMatch(name);
        }
        // Refusing changed nothing: the right identity opens it, items and all.
        store = track(await reopen(store, first));
        expect(store.dim).toBe(24);
        expect(store.modelId).toBe(first.modelId);
        expect(await scanAll(store, 10)).toEqual(items.map(recordOf));
        expect(Array.from((await store.getVector('m-1'))!)).toEqual(Array.from(items[1]!.vector));
      },
    );

    const restartCase = subject.restart ? test : test.skip;
    restartCase(
      `a restart between write and read loses nothing acknowledged${subject.restart ? '' : ' (the subject cannot restart)'}`,
      async () => {
        let store = await open();
        const reference = new MemoryVectorStore(IDENTITY);
        const items = corpus(150, 12);
        const replaced = corpus(150, 13)
          .filter((_, i) => i % 5 === 0)
          .map((replacement) => ({ ...replacement, metadata: { ...replacement.metadata, replaced: true } }));
        const gone = items.filter((_, i) => i % 7 === 3).map((candidate) => candidate.id);
        for (const target of [store, reference]) {
          for (let at = 0; at < items.length; at += 50) await target.upsert(items.slice(at, at + 50));
          await target.upsert(replaced);
          await target.delete(gone);
        }
        store = track(await subject.restart!(store));
        const queries = [items[1]!.vector, ...unitVectors(2, DIM, 14)];
        const expectSame = async (): Promise<void> => {
          expect(await store.count()).toBe(await reference.count());
          expect(await store.count({ replaced: true })).toBe(await reference.count({ replaced: true }));
          expect(await scanAll(store, 40)).toEqual(await scanAll(reference, 40));
          for (const candidate of [...items, ...replaced])
            expect({
              id: candidate.id,
              vector: Array.from((await store.getVector(candidate.id)) ?? []),
            }).toEqual({
              id: candidate.id,
              vector: Array.from((await reference.getVector(candidate.id)) ?? []),
            });
          for (const vector of queries)
            expect((await store.search({ vector, k: 15 })).map((h) => h.item)).toEqual(
              (await reference.search({ vector, k: 15 })).map((h) => h.item),
            );
        };
        await expectSame();
        // And it goes on taking writes, which the next restart keeps too.
        const late = item('late', unitVectors(1, DIM, 15)[0]!, { metadata: { replaced: true } });
        for (const target of [store, reference]) {
          await target.upsert([late]);
          await target.delete([items[2]!.id]);
        }
        store = track(await subject.restart!(store));
        await expectSame();
      },
    );

    describe(`on ${LARGE_COUNT.toLocaleString('en-US')} structured vectors`, () => {
      const vectors = lowRankUnitVectors(LARGE_COUNT, LARGE_DIM, 21);
      const queries = lowRankUnitVectors(LARGE_QUERIES, LARGE_DIM, 22);
      const idOf = (row: number): string => `v-${String(row).padStart(5, '0')}`;
      let store: VectorStore | undefined;
      const large = (): VectorStore => {
        if (!store) throw new Error('the large store did not open');
        return store;
      };

      beforeAll(async () => {
        store = await subject.open({ dim: LARGE_DIM, modelId: MODEL });
        const items = Array.from({ length: LARGE_COUNT }, (_, row) =>
          makeItem(idOf(row), rowOf(vectors, LARGE_DIM, row), {
            modelId: MODEL,
            metadata: { shard: row % 10 },
          }),
        );
        for (let at = 0; at < LARGE_COUNT; at += 1_000) await store.upsert(items.slice(at, at + 1_000));
      }, 180_000);

      afterAll(async () => {
        await store?.close();
      });

      test('recall@10 ≥ 0.95 against exact search', async () => {
        let sum = 0;
        for (let q = 0; q < LARGE_QUERIES; q++) {
          const query = rowOf(queries, LARGE_DIM, q);
          const hits = await large().search({ vector: query, k: K });
          expect(hits).toHaveLength(K);
          sum += recall(
            hits.map((h) => h.item.id),
            exactTopK(vectors, LARGE_DIM, query, K).map(idOf),
          );
        }
        expect(sum / LARGE_QUERIES).toBeGreaterThanOrEqual(0.95);
      });

      test('recall@10 ≥ 0.95 with filters keeping 10% and 30% of the items', async () => {
        const filters: [MetadataFilter, (row: number) => boolean][] = [
          [{ shard: 3 }, (row) => row % 10 === 3],
          [{ shard: { in: [1, 5, 8] } }, (row) => [1, 5, 8].includes(row % 10)],
        ];
        for (const [filter, accept] of filters) {
          let sum = 0;
          for (let q = 0; q < FILTERED_QUERIES; q++) {
            const query = rowOf(queries, LARGE_DIM, q);
            const hits = await large().search({ vector: query, k: K, filter });
            expect(hits.every((h) => matchesFilter(h.item, filter))).toBe(true);
            sum += recall(
              hits.map((h) => h.item.id),
              exactTopK(vectors, LARGE_DIM, query, K, accept).map(idOf),
            );
          }
          expect({ filter, recall: sum / FILTERED_QUERIES >= 0.95 }).toEqual({ filter, recall: true });
        }
      });

      test('pages of a search with offset are disjoint and complete', async () => {
        const depth = 300;
        const size = 50;
        for (const filter of [undefined, { shard: { in: [0, 2, 4, 6, 8] } }]) {
          for (let q = 0; q < 2; q++) {
            const vector = rowOf(queries, LARGE_DIM, q);
            const request = { vector, ...(filter ? { filter } : {}) };
            const whole = await large().search({ ...request, k: depth });
            expect(whole).toHaveLength(depth);
            const pages: string[] = [];
            for (let offset = 0; offset < depth; offset += size)
              pages.push(...(await large().search({ ...request, k: size, offset })).map((h) => h.item.id));
            expect({ filter, query: q, pages }).toEqual({
              filter,
              query: q,
              pages: whole.map((h) => h.item.id),
            });
          }
        }
      });

      test('pages of a scan with `after` are disjoint and complete', async () => {
        const all = await scanPages(large(), { limit: 997 });
        expect(all.flat().map((record) => record.id)).toEqual(
          Array.from({ length: LARGE_COUNT }, (_, row) => idOf(row)),
        );
        const shard = await scanPages(large(), { limit: 300, filter: { shard: 7 } });
        expect(shard.flat().map((record) => record.id)).toEqual(
          Array.from({ length: LARGE_COUNT / 10 }, (_, i) => idOf(i * 10 + 7)),
        );
        expect(await large().count({ shard: 7 })).toBe(LARGE_COUNT / 10);
      });
    });
  });
}

// ---- data ------------------------------------------------------------------------------------------------

function item(
  id: string,
  vector: Float32Array,
  options: { uri?: string; metadata?: Metadata; modelId?: string } = {},
): VectorItem {
  return makeItem(id, vector, { modelId: MODEL, ...options });
}

/** What a store gives back for `item`: its record, the metadata as JSON carries it (-0 becomes 0…). */
function recordOf(item: VectorItem): ItemRecord {
  const { vector: _vector, ...record } = item;
  return { ...record, metadata: JSON.parse(JSON.stringify(item.metadata)) as Metadata };
}

/** `count` items `c-000`… of seeded structured vectors, tagged `set` and `parity`. */
function corpus(count: number, seed: number): VectorItem[] {
  return unitVectors(count, DIM, seed).map((vector, i) =>
    item(`c-${String(i).padStart(3, '0')}`, vector, {
      metadata: { set: 'corpus', parity: i % 2 === 0 ? 'even' : 'odd', n: i },
    }),
  );
}

/** UTF-8 byte order, which is code point order: how stores order ids (SQLite's BINARY collation). */
function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function sortedIds(items: readonly { readonly id: string }[]): string[] {
  return items.map((candidate) => candidate.id).sort(byCodePoint);
}

/** Ids a store must take like any other. */
const HOSTILE_IDS: readonly string[] = [
  'plain',
  "it's",
  'say "hi"',
  'back\\slash',
  "x' or '1'='1",
  '" || true || "',
  '(a) && (b)',
  '50%_*?[x]',
  '__proto__',
  'constructor',
  'caf\u00e9',
  'cafe\u0301',
  '\u{1F600}',
  ' ',
  'a/b?c#d&e=f',
  'I'.repeat(2_000),
];

/** Metadata of every JSON type, nested and hostile, to be given back as written. */
function richMetadata(i: number): Metadata {
  const metadata = JSON.parse('{"__proto__": "own field", "constructor": "too"}') as Record<
    string,
    JsonValue
  >;
  return Object.assign(metadata, {
    n: i,
    float: 0.1 + 0.2,
    negative: -1e-300,
    big: 2 ** 62,
    zero: -0,
    yes: true,
    no: false,
    nothing: null,
    text: `caf\u00e9 \u{1F600} "quoted" 'single' back\\slash\nnewline\ttab\u0000nul`,
    long: 'L'.repeat(10_000),
    list: [1, 'two', null, [3], { four: 4 }],
    nested: { a: { b: [true, { c: 'deep' }] }, empty: {} },
    'dotted.key': 'literal',
  });
}

// ---- filters ---------------------------------------------------------------------------------------------

/** [id, uri, metadata] of a small filter corpus. */
type FilterItem = readonly [id: string, uri: string, metadata: Metadata];
/** A filter and the ids of the items it leaves. */
type FilterCase = readonly [filter: MetadataFilter, ids: readonly string[]];

const FILTER_ITEMS: readonly FilterItem[] = [
  [
    'p1',
    'file:///photos/2024/summer/1.jpg',
    { camera: 'canon', rating: 4, favourite: true, one: '1', folder: '2024/summer' },
  ],
  [
    'p2',
    'file:///photos/2024/2.jpg',
    { camera: 'Canon', rating: 4.5, favourite: false, one: 1, folder: '2024' },
  ],
  [
    'p3',
    'file:///photos/2025/3.jpg',
    { camera: 'nikon', rating: '4', favourite: 'true', one: true, folder: '2025' },
  ],
  ['p4', 'file:///photos/4.jpg', { camera: null, rating: 0, favourite: 1, zero: -0 }],
  ['p5', 's3://bucket/photos/5.jpg', { camera: ['canon'], rating: -1, uri: 'file:///photos/2024/fake.jpg' }],
  [
    'p6',
    'file:///photos/2024/summer/beach/6.jpg',
    { camera: { make: 'canon' }, rating: 4.0, folder: '2024/summer/beach' },
  ],
  ['p7', 'file:///photos/7.jpg', {}],
  [
    'p8',
    'file:///photos/2024/8.jpg',
    { camera: 'canonet', rating: 1e-7, favourite: true, zero: 0, folder: '' },
  ],
];

const FILTER_CASES: readonly FilterCase[] = [
  [{}, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8']],
  [{ camera: 'canon' }, ['p1']],
  [{ camera: { eq: 'canon' } }, ['p1']],
  [{ camera: 'Canon' }, ['p2']],
  [{ camera: { prefix: 'canon' } }, ['p1', 'p8']],
  [{ camera: { prefix: 'can' } }, ['p1', 'p8']],
  // Strings only: null, the array and the object never match, not even the empty prefix.
  [{ camera: { prefix: '' } }, ['p1', 'p2', 'p3', 'p8']],
  [{ camera: { in: ['nikon', 'Canon', 1, true] } }, ['p2', 'p3']],
  [{ camera: { in: ['canon'] } }, ['p1']],
  [{ camera: { in: [] } }, []],
  [{ camera: { eq: 'make' } }, []],
  [{ rating: 4 }, ['p1', 'p6']],
  [{ rating: { eq: 4.5 } }, ['p2']],
  [{ rating: '4' }, ['p3']],
  [{ rating: 1e-7 }, ['p8']],
  [{ rating: { in: [0, -1, '5', true] } }, ['p4', 'p5']],
  [{ rating: { prefix: '4' } }, ['p3']],
  [{ favourite: true }, ['p1', 'p8']],
  [{ favourite: false }, ['p2']],
  [{ favourite: 1 }, ['p4']],
  [{ favourite: 'true' }, ['p3']],
  [{ favourite: { in: [true, 1] } }, ['p1', 'p4', 'p8']],
  [{ one: '1' }, ['p1']],
  [{ one: 1 }, ['p2']],
  [{ one: true }, ['p3']],
  [{ one: { in: ['1', 1, true] } }, ['p1', 'p2', 'p3']],
  [{ zero: 0 }, ['p4', 'p8']],
  [{ zero: -0 }, ['p4', 'p8']],
  [{ zero: false }, []],
  [{ zero: '0' }, []],
  [{ folder: '' }, ['p8']],
  [{ folder: { prefix: '2024' } }, ['p1', 'p2', 'p6']],
  [{ folder: { prefix: '2024/' } }, ['p1', 'p6']],
  // `uri` is the item's URI, never a metadata field of that name.
  [{ uri: 'file:///photos/4.jpg' }, ['p4']],
  [{ uri: { eq: 'file:///photos/2024/fake.jpg' } }, []],
  [{ uri: { prefix: 'file:///photos/2024/' } }, ['p1', 'p2', 'p6', 'p8']],
  [{ uri: { prefix: 's3://' } }, ['p5']],
  [{ uri: { in: ['file:///photos/7.jpg', 'file:///photos/2024/fake.jpg', 7] } }, ['p7']],
  [{ uri: 1 }, []],
  [{ uri: { prefix: '' } }, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8']],
  // Absent fields match nothing.
  [{ lens: 'x' }, []],
  [{ lens: { prefix: '' } }, []],
  [{ lens: { in: ['x', 0, false] } }, []],
  // Every condition must hold.
  [{ camera: { prefix: 'can' }, favourite: true, uri: { prefix: 'file:///photos/2024/' } }, ['p1', 'p8']],
  [{ rating: 4, folder: { prefix: '2024/summer' } }, ['p1', 'p6']],
  [{ camera: 'canon', favourite: false }, []],
];

/** Long enough to be stored out of line by some engines, or cut by a careless one. */
const LONG = 'L'.repeat(10_000);
const LONG_KEY = 'K'.repeat(1_000);

/** A field named `__proto__`, own and enumerable, as JSON.parse makes it (an object literal would not). */
const PROTO_FIELD = JSON.parse('{"__proto__": "polluted"}') as Metadata;

const HOSTILE_ITEMS: readonly FilterItem[] = [
  ['h-quote', 'file:///h/1.jpg', { note: "it's" }],
  ['h-dquote', 'file:///h/2.jpg', { note: 'say "hi"' }],
  ['h-backslash', 'file:///h/3.jpg', { note: 'back\\slash' }],
  ['h-sql-or', 'file:///h/4.jpg', { note: "x' or '1'='1" }],
  ['h-js-or', 'file:///h/5.jpg', { note: 'x" || "1"=="1' }],
  ['h-and', 'file:///h/6.jpg', { note: 'a && b' }],
  ['h-parens', 'file:///h/7.jpg', { note: '(x) or (y)' }],
  ['h-comment', 'file:///h/8.jpg', { note: "'); DROP TABLE items; --" }],
  ['h-percent', 'file:///h/9.jpg', { note: '50%' }],
  ['h-percent-off', 'file:///h/10.jpg', { note: '50% off' }],
  ['h-500', 'file:///h/11.jpg', { note: '500' }],
  ['h-underscore', 'file:///h/12.jpg', { note: '_x' }],
  ['h-ax', 'file:///h/13.jpg', { note: 'ax' }],
  ['h-glob', 'file:///h/14.jpg', { note: '*?[x]{y}$1' }],
  ['h-nfc', 'file:///h/15.jpg', { note: 'caf\u00e9' }],
  ['h-nfd', 'file:///h/16.jpg', { note: 'cafe\u0301' }],
  ['h-emoji', 'file:///h/17.jpg', { note: '\u{1F600} grin' }],
  ['h-private', 'file:///h/18.jpg', { note: '\u{FF5E} wave' }],
  ['h-nul', 'file:///h/19.jpg', { note: 'nul\u0000byte' }],
  ['h-max', 'file:///h/20.jpg', { note: 'max' }],
  ['h-max-top', 'file:///h/21.jpg', { note: 'max\u{10FFFF}' }],
  ['h-long', 'file:///h/22.jpg', { note: `${LONG}end` }],
  ['h-null-string', 'file:///h/23.jpg', { note: 'null' }],
  ['h-null', 'file:///h/24.jpg', { note: null }],
  ['h-empty', 'file:///h/25.jpg', { note: '' }],
  ['h-newline', 'file:///h/26.jpg', { note: 'line\nbreak' }],
  ['h-proto', 'file:///h/27.jpg', PROTO_FIELD],
  ['h-ctor', 'file:///h/28.jpg', { constructor: 'made' }],
  ['h-dotted', 'file:///h/29.jpg', { 'a.b': 1 }],
  ['h-nested', 'file:///h/30.jpg', { a: { b: 1 } }],
  ['h-quote-key', 'file:///h/31.jpg', { "it's": 'key', 'say "k"': 'dkey' }],
  ['h-long-key', 'file:///h/32.jpg', { [LONG_KEY]: 'long key' }],
  ['h-keywords', 'file:///h/33.jpg', { or: 'and', '&&': '||', 'x = 1 OR 1': 1 }],
  ['h-uri', 'file:///it\'s/"q"/50%_.jpg', { note: 'uri' }],
  ['h-numbers', 'file:///h/35.jpg', { note: 0.1 + 0.2, big: 2 ** 62, tiny: 5e-324, huge: 1e300 }],
];

const HOSTILE_CASES: readonly FilterCase[] = [
  [{ note: "it's" }, ['h-quote']],
  [{ note: { prefix: 'it' } }, ['h-quote']],
  [{ note: 'say "hi"' }, ['h-dquote']],
  [{ note: 'back\\slash' }, ['h-backslash']],
  [{ note: 'back\\\\slash' }, []],
  [{ note: 'backslash' }, []],
  [{ note: { prefix: 'back\\' } }, ['h-backslash']],
  [{ note: "x' or '1'='1" }, ['h-sql-or']],
  [{ note: 'x' }, []],
  [{ note: "x' or '1'='1' or note='x" }, []],
  [{ note: { prefix: "x'" } }, ['h-sql-or']],
  [{ note: 'x" || "1"=="1' }, ['h-js-or']],
  [{ note: { prefix: 'x"' } }, ['h-js-or']],
  [{ note: '" || true || "' }, []],
  [{ note: 'a && b' }, ['h-and']],
  [{ note: '(x) or (y)' }, ['h-parens']],
  [{ note: { prefix: '(' } }, ['h-parens']],
  [{ note: "'); DROP TABLE items; --" }, ['h-comment']],
  [{ note: "' OR 1=1 --" }, []],
  // LIKE and glob wildcards are characters like any other.
  [{ note: { prefix: '50%' } }, ['h-percent', 'h-percent-off']],
  [{ note: { prefix: '5_0' } }, []],
  [{ note: { prefix: '5%' } }, []],
  [{ note: { prefix: '_' } }, ['h-underscore']],
  [{ note: { prefix: '%' } }, []],
  [{ note: { prefix: '*' } }, ['h-glob']],
  [{ note: { prefix: '?' } }, []],
  [{ note: '*?[x]{y}$1' }, ['h-glob']],
  // Unicode: no normalization, no case folding, whole code points.
  [{ note: 'caf\u00e9' }, ['h-nfc']],
  [{ note: 'cafe\u0301' }, ['h-nfd']],
  [{ note: { prefix: 'caf' } }, ['h-nfc', 'h-nfd']],
  [{ note: { prefix: 'CAF' } }, []],
  [{ note: { prefix: '\u{1F600}' } }, ['h-emoji']],
  [{ note: { prefix: '\u{FF5E}' } }, ['h-private']],
  [{ note: 'nul\u0000byte' }, ['h-nul']],
  [{ note: { prefix: 'nul\u0000' } }, ['h-nul']],
  [{ note: 'nul' }, []],
  [{ note: { prefix: 'max' } }, ['h-max', 'h-max-top']],
  [{ note: { prefix: 'max\u{10FFFF}' } }, ['h-max-top']],
  [{ note: 'max\u{10FFFF}' }, ['h-max-top']],
  [{ note: `${LONG}end` }, ['h-long']],
  [{ note: LONG }, []],
  [{ note: { prefix: LONG.slice(0, 5_000) } }, ['h-long']],
  [{ note: { in: [`${LONG}end`, "it's", 'say "hi"', 'nope', 0.3] } }, ['h-dquote', 'h-long', 'h-quote']],
  [{ note: 'null' }, ['h-null-string']],
  [{ note: '' }, ['h-empty']],
  [{ note: { in: [''] } }, ['h-empty']],
  [{ note: 'line\nbreak' }, ['h-newline']],
  [{ note: 'line' }, []],
  [
    { note: { prefix: '' } },
    HOSTILE_ITEMS.filter(([, , metadata]) => typeof metadata.note === 'string').map(([id]) => id),
  ],
  // Keys are field names, never paths, and the fields of Object.prototype are nobody's.
  [JSON.parse('{"__proto__": "polluted"}') as MetadataFilter, ['h-proto']],
  [JSON.parse('{"__proto__": {"prefix": ""}}') as MetadataFilter, ['h-proto']],
  [{ constructor: 'made' }, ['h-ctor']],
  [{ constructor: { prefix: '' } }, ['h-ctor']],
  [{ toString: { prefix: '' } }, []],
  [{ hasOwnProperty: { in: ['', 0, false, true] } }, []],
  [{ 'a.b': 1 }, ['h-dotted']],
  [{ a: { in: [1, '1'] } }, []],
  [{ "it's": 'key' }, ['h-quote-key']],
  [{ 'say "k"': 'dkey' }, ['h-quote-key']],
  [{ [LONG_KEY]: 'long key' }, ['h-long-key']],
  [{ [LONG_KEY.slice(1)]: 'long key' }, []],
  [{ or: 'and' }, ['h-keywords']],
  [{ '&&': '||' }, ['h-keywords']],
  [{ 'x = 1 OR 1': 1 }, ['h-keywords']],
  [{ 'note" OR 1=1 --': 'x' }, []],
  [{ "note' OR '1'='1": 'x' }, []],
  [{ uri: 'file:///it\'s/"q"/50%_.jpg' }, ['h-uri']],
  [{ uri: { prefix: "file:///it's/" } }, ['h-uri']],
  [{ uri: { prefix: 'file:///it_s/' } }, []],
  // Numbers compare as the doubles they are.
  [{ note: 0.1 + 0.2 }, ['h-numbers']],
  [{ note: 0.3 }, []],
  [{ big: 2 ** 62 }, ['h-numbers']],
  [{ tiny: 5e-324 }, ['h-numbers']],
  [{ huge: { in: [1e300, 1e301] } }, ['h-numbers']],
  [{ note: '0.30000000000000004' }, []],
];

/**
 * Writes the filter corpus, then checks each case on count, scan (in pages of 2) and search (every hit
 * passing, in exact order, paged too): all the paths a store may compile a filter into.
 */
async function expectFilters(
  store: VectorStore,
  corpusItems: readonly FilterItem[],
  cases: readonly FilterCase[],
): Promise<void> {
  const vectors = unitVectors(corpusItems.length, DIM, 40);
  const items = corpusItems.map(([id, uri, metadata], i) => item(id, vectors[i]!, { uri, metadata }));
  await store.upsert(items);
  const queries = [items[0]!.vector, unitVectors(1, DIM, 41)[0]!];
  const failures: unknown[] = [];
  for (const [filter, ids] of cases) {
    const allowed = items.filter((candidate) => ids.includes(candidate.id));
    const expected = sortedIds(allowed);
    const count = await store.count(filter);
    const scanned = (await scanPages(store, { limit: 2, filter })).flat().map((record) => record.id);
    const searched: string[][] = [];
    const wanted: string[][] = [];
    for (const vector of queries) {
      const hits = await store.search({ vector, k: items.length, filter });
      const second = await store.search({ vector, k: 2, offset: 1, filter });
      searched.push(
        hits.map((h) => h.item.id),
        second.map((h) => h.item.id),
      );
      const exact = exactIds(allowed, vector, items.length);
      wanted.push(exact, exact.slice(1, 3));
    }
    const got = { filter, count, scanned, searched };
    const want = { filter, count: expected.length, scanned: expected, searched: wanted };
    if (!sameJson(got, want)) failures.push({ got, want });
  }
  // Every failing case at once, with its filter: a store that gets one wrong usually gets several.
  expect(failures).toEqual([]);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// ---- reads and refusals ----------------------------------------------------------------------------------

/** Scan pages until the last: each page's `next` must be its last id, and a page with `next` has more after it. */
async function scanPages(
  store: VectorStore,
  options: { readonly limit: number; readonly filter?: MetadataFilter },
): Promise<ItemRecord[][]> {
  const pages: ItemRecord[][] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.scan({ ...options, ...(after === undefined ? {} : { after }) });
    if (pages.length > 0 && page.items.length === 0)
      throw new Error(`scan gave a \`next\` (${after}) with nothing after it`);
    pages.push(page.items);
    if (page.next === undefined) return pages;
    expect(page.next).toBe(page.items.at(-1)?.id);
    if (pages.length > 100_000) throw new Error('scan does not end');
    after = page.next;
  }
}

/** Hits sorted best first, each score the cosine of its item's vector with the query, within [-1, 1]. */
function expectScores(hits: readonly SearchHit[], items: readonly VectorItem[], query: Float32Array): void {
  const vectorOf = new Map(items.map((candidate) => [candidate.id, candidate.vector]));
  for (const [i, hit] of hits.entries()) {
    const exact = dot(vectorOf.get(hit.item.id)!, query);
    expect(Math.abs(hit.score - exact)).toBeLessThanOrEqual(SCORE_TOLERANCE);
    expect(Math.abs(hit.score)).toBeLessThanOrEqual(1);
    if (i > 0) expect(hit.score).toBeLessThanOrEqual(hits[i - 1]!.score);
  }
}

type RefusalClass = typeof InvalidInputError | typeof ModelMismatchError | typeof BackendUnavailableError;

/**
 * How a call that must be refused went: the expected class's name when it rejected with one, otherwise
 * what happened instead (it resolved, threw synchronously, or rejected with something else).
 */
async function refusal(call: () => Promise<unknown>, expected: RefusalClass): Promise<string> {
  let pending: Promise<unknown>;
  try {
    pending = call();
  } catch (error) {
    return `threw synchronously instead of rejecting: ${describeError(error)}`;
  }
  return pending.then(
    () => 'resolved',
    (error: unknown) => (error instanceof expected ? expected.name : describeError(error)),
  );
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
}

// ---- concurrent writes -----------------------------------------------------------------------------------

type Write = { readonly upsert: readonly VectorItem[] } | { readonly delete: readonly string[] };

function apply(store: VectorStore, write: Write): Promise<unknown> {
  return 'upsert' in write ? store.upsert(write.upsert) : store.delete(write.delete);
}

/**
 * Writer `w`'s steps, on ids of its own: each step's writes touch distinct ids, so they may run at once
 * and the result is still that of running them one by one.
 */
function writerSteps(w: number): Write[][] {
  const PER_WRITER = 40;
  const id = (i: number): string => `w${w}-${String(i).padStart(2, '0')}`;
  const version = (i: number, v: number): VectorItem =>
    item(id(i), vectorFor(id(i), v, DIM), { metadata: { kind: 'written', writer: `w${w}`, version: v } });
  const range = (accept: (i: number) => boolean): number[] =>
    Array.from({ length: PER_WRITER }, (_, i) => i).filter(accept);
  return [
    // Four batches at once.
    [0, 1, 2, 3].map((batch) => ({ upsert: range((i) => i % 4 === batch).map((i) => version(i, 1)) })),
    // Overwrites one by one and a delete, all at once.
    [
      ...range((i) => i % 3 === 0 && i % 4 !== 1).map((i) => ({ upsert: [version(i, 2)] })),
      { delete: [...range((i) => i % 4 === 1).map(id), `w${w}-unknown`] },
    ],
    // Some deleted ids come back while others go.
    [
      { upsert: range((i) => i % 8 === 1).map((i) => version(i, 3)) },
      { delete: range((i) => i % 10 === 0).map(id) },
    ],
  ];
}
