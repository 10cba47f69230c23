import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { BackendUnavailableError, InvalidInputError, ModelMismatchError } from '@clip-search/contracts';
import {
  type EmbeddedVectorStore,
  type EmbeddedVectorStoreOptions,
  openEmbeddedVectorStore,
  type SearchPlan,
} from '../src/embedded-vector-store';
import type { SearchHit, VectorItem } from '@clip-search/contracts';
import { dot, exactIds, makeItem, MODEL_ID, temporaryDir, unitVectors } from '@clip-search/contracts/testing';

const DIM = 32;

describe('embedded vector store', () => {
  let tmp: ReturnType<typeof temporaryDir>;
  const open: EmbeddedVectorStore[] = [];

  beforeEach(() => {
    tmp = temporaryDir();
  });

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    tmp.remove();
  });

  async function openStore(options: Partial<EmbeddedVectorStoreOptions> = {}): Promise<EmbeddedVectorStore> {
    const store = await openEmbeddedVectorStore({ dir: tmp.dir, dim: DIM, modelId: MODEL_ID, ...options });
    open.push(store);
    return store;
  }

  async function closeStore(store: EmbeddedVectorStore): Promise<void> {
    open.splice(open.indexOf(store), 1);
    await store.close();
  }

  /** 300 items over two folders, with metadata fields of three types. */
  function corpus(count = 300): VectorItem[] {
    return unitVectors(count, DIM, 11).map((vector, i) =>
      makeItem(`item-${String(i).padStart(4, '0')}`, vector, {
        uri: `file:///photos/${i % 2 === 0 ? 'beach' : 'city'}/${i}.jpg`,
        metadata: {
          camera: i % 3 === 0 ? 'nikon' : 'canon',
          rating: i % 5,
          favourite: i % 7 === 0,
          tags: ['not', 'filterable'],
        },
      }),
    );
  }

  test('upserted items read back by get, getVector and count', async () => {
    const store = await openStore();
    const items = corpus(20);
    await store.upsert(items);

    expect(await store.count()).toBe(20);
    const [first, missing, last] = await store.get(['item-0000', 'nope', 'item-0019']);
    const { vector: _vector, ...expected } = items[0]!;
    expect(first).toEqual(expected);
    expect(missing).toBeUndefined();
    expect(last?.uri).toBe('file:///photos/city/19.jpg');
    expect(Array.from((await store.getVector('item-0005'))!)).toEqual(Array.from(items[5]!.vector));
    expect(await store.getVector('nope')).toBeUndefined();
  });

  test('upserting an existing id replaces its record, vector and filter fields', async () => {
    const store = await openStore();
    const [a, b] = unitVectors(2, DIM, 3);
    await store.upsert([makeItem('x', a!, { metadata: { camera: 'nikon' }, uri: 'file:///old.jpg' })]);
    await store.upsert([makeItem('x', b!, { metadata: { camera: 'canon' }, uri: 'file:///new.jpg' })]);

    expect(await store.count()).toBe(1);
    expect((await store.get(['x']))[0]?.uri).toBe('file:///new.jpg');
    expect(Array.from((await store.getVector('x'))!)).toEqual(Array.from(b!));
    expect(await store.count({ camera: 'nikon' })).toBe(0);
    expect(await store.count({ camera: 'canon' })).toBe(1);
    const [hit] = await store.search({ vector: b!, k: 1 });
    expect(hit?.item.id).toBe('x');
    expect(hit?.score).toBeCloseTo(1, 5);
  });

  test('within one upsert call, the last item of an id wins', async () => {
    const store = await openStore();
    const [a, b] = unitVectors(2, DIM, 4);
    await store.upsert([
      makeItem('x', a!, { uri: 'file:///1.jpg' }),
      makeItem('x', b!, { uri: 'file:///2.jpg' }),
    ]);
    expect(await store.count()).toBe(1);
    expect((await store.get(['x']))[0]?.uri).toBe('file:///2.jpg');
  });

  test('delete reports how many ids existed and removes them everywhere', async () => {
    const store = await openStore();
    const items = corpus(50);
    await store.upsert(items);

    expect(await store.delete(['item-0001', 'item-0002', 'item-0002', 'nope'])).toBe(2);
    expect(await store.delete([])).toBe(0);
    expect(await store.count()).toBe(48);
    expect(await store.get(['item-0001'])).toEqual([undefined]);
    expect(await store.getVector('item-0002')).toBeUndefined();
    const scanned = await store.scan({ limit: 100 });
    expect(scanned.items.map((i) => i.id)).not.toContain('item-0001');
    const hits = await store.search({ vector: items[1]!.vector, k: 50 });
    expect(hits.map((h) => h.item.id)).not.toContain('item-0001');
  });

  // Small stores are searched exactly; `exactSearchMaxCandidates: 1` forces the HNSW path on the same data.
  describe.each([
    ['exact', 100_000],
    ['approximate', 1],
  ] as const)('search, %s path', (_, exactSearchMaxCandidates) => {
    let plans: SearchPlan[];
    const path = exactSearchMaxCandidates > 1 ? 'exact' : 'approximate';
    const openForPath = (): Promise<EmbeddedVectorStore> => {
      plans = [];
      return openStore({
        exactSearchMaxCandidates,
        onSearch: (plan) => plans.push(plan),
      });
    };

    function expectSorted(hits: readonly SearchHit[]): void {
      for (let i = 1; i < hits.length; i++) {
        const [before, after] = [hits[i - 1]!, hits[i]!];
        expect(
          before.score > after.score || (before.score === after.score && before.item.id < after.item.id),
        ).toBe(true);
      }
    }

    test('returns the nearest items, best first, with cosine scores', async () => {
      const store = await openForPath();
      const items = corpus();
      await store.upsert(items);
      const query = items[42]!.vector;

      const hits = await store.search({ vector: query, k: 10 });
      expect(plans.every((p) => p.path === path)).toBe(true);
      expect(hits.map((h) => h.item.id)).toEqual(exactIds(items, query, 10));
      expect(hits[0]?.item.id).toBe('item-0042');
      expectSorted(hits);
      for (const hit of hits) {
        const item = items.find((i) => i.id === hit.item.id)!;
        expect(hit.score).toBeCloseTo(dot(item.vector, query), 5);
      }
    });

    test('equal scores are ordered by id', async () => {
      const store = await openForPath();
      const [v, other] = unitVectors(2, DIM, 5);
      // Duplicate images: one vector under several ids, inserted out of id order.
      await store.upsert(['d', 'b', 'e', 'a', 'c'].map((id) => makeItem(id, v!)));
      await store.upsert([makeItem('z', other!)]);
      const hits = await store.search({ vector: v!, k: 5 });
      expect(hits.map((h) => h.item.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    test('filters: equality, eq, in, prefix on uri, booleans, numbers, combined', async () => {
      const store = await openForPath();
      const items = corpus();
      await store.upsert(items);
      const query = items[7]!.vector;
      const check = async (
        filter: Parameters<EmbeddedVectorStore['search']>[0]['filter'],
        accept: (item: VectorItem, index: number) => boolean,
      ): Promise<void> => {
        const allowed = items.filter(accept);
        const hits = await store.search({ vector: query, k: 10, filter });
        expect(hits.map((h) => h.item.id)).toEqual(exactIds(allowed, query, 10));
        expect(await store.count(filter)).toBe(allowed.length);
      };
      await check({ camera: 'nikon' }, (_, i) => i % 3 === 0);
      expect(plans.at(-1)?.path).toBe(path);
      await check({ camera: { eq: 'canon' } }, (_, i) => i % 3 !== 0);
      await check({ rating: { in: [1, 3] } }, (_, i) => i % 5 === 1 || i % 5 === 3);
      await check({ rating: 4 }, (_, i) => i % 5 === 4);
      await check({ favourite: true }, (_, i) => i % 7 === 0);
      await check({ uri: { prefix: 'file:///photos/beach/' } }, (_, i) => i % 2 === 0);
      await check({ uri: 'file:///photos/city/7.jpg' }, (_, i) => i === 7);
      await check(
        { uri: { prefix: 'file:///photos/city/' }, camera: 'nikon', rating: { in: [0, 2, 'x'] } },
        (_, i) => i % 2 === 1 && i % 3 === 0 && (i % 5 === 0 || i % 5 === 2),
      );
      // Types are kept apart as JSON keeps them: "4" is not 4, 1 is not true.
      await check({ rating: '4' }, () => false);
      await check({ favourite: 1 }, () => false);
      await check({ rating: { in: [] } }, () => false);
      // Arrays and unknown fields never match a scalar condition.
      await check({ tags: 'not' }, () => false);
      await check({ lens: 'x' }, () => false);
      await check({ camera: { prefix: 'ni' } }, (_, i) => i % 3 === 0);
      await check({ camera: { prefix: '' } }, () => true);
    });

    test('deleted items are never returned', async () => {
      const store = await openForPath();
      const items = corpus();
      await store.upsert(items);
      const query = items[10]!.vector;
      const before = await store.search({ vector: query, k: 20 });
      const removed = before.slice(0, 5).map((h) => h.item.id);
      await store.delete(removed);

      const after = await store.search({ vector: query, k: 20 });
      expect(after.map((h) => h.item.id)).toEqual(
        exactIds(
          items.filter((i) => !removed.includes(i.id)),
          query,
          20,
        ),
      );
      const filtered = await store.search({ vector: query, k: 20, filter: { camera: 'canon' } });
      expect(filtered.some((h) => removed.includes(h.item.id))).toBe(false);
    });

    test('minScore drops weaker hits', async () => {
      const store = await openForPath();
      const items = corpus();
      await store.upsert(items);
      const query = items[3]!.vector;
      const all = await store.search({ vector: query, k: 50 });
      const threshold = all[9]!.score;
      const hits = await store.search({ vector: query, k: 50, minScore: threshold });
      expect(hits.length).toBe(all.filter((h) => h.score >= threshold).length);
      expect(hits.length).toBeGreaterThanOrEqual(10);
      expect(hits.every((h) => h.score >= threshold)).toBe(true);
      expect(await store.search({ vector: query, k: 5, minScore: 1.5 })).toEqual([]);
    });

    test('pagination: each page continues the previous one', async () => {
      const store = await openForPath();
      const items = corpus();
      await store.upsert(items);
      const query = items[99]!.vector;
      for (const filter of [undefined, { camera: 'canon' }]) {
        const whole = await store.search({ vector: query, k: 60, filter });
        const pages: SearchHit[] = [];
        for (let offset = 0; offset < 60; offset += 15) {
          pages.push(...(await store.search({ vector: query, k: 15, offset, filter })));
        }
        expect(pages.map((h) => h.item.id)).toEqual(whole.map((h) => h.item.id));
        expect(new Set(pages.map((h) => h.item.id)).size).toBe(60);
        expectSorted(pages);
      }
      const beyond = await store.search({ vector: query, k: 10, offset: 295 });
      expect(beyond.length).toBe(5);
    });
  });

  test('selective filters are answered exactly, broad ones by the index', async () => {
    const plans: SearchPlan[] = [];
    const store = await openStore({ exactSearchMaxCandidates: 30, onSearch: (plan) => plans.push(plan) });
    const items = corpus();
    await store.upsert(items);
    const query = items[0]!.vector;

    // rating 4 and favourite leaves 8 items, camera nikon 100.
    const allowed = items.filter((_, i) => i % 5 === 4 && i % 7 === 0);
    const hits = await store.search({ vector: query, k: 10, filter: { rating: 4, favourite: true } });
    expect(plans.at(-1)).toEqual({ path: 'exact', scanned: allowed.length });
    expect(hits.map((h) => h.item.id)).toEqual(exactIds(allowed, query, 10));

    await store.search({ vector: query, k: 10, filter: { camera: 'nikon' } });
    expect(plans.at(-1)?.path).toBe('approximate');
    await store.search({ vector: query, k: 10 });
    expect(plans.at(-1)).toEqual({ path: 'approximate', scanned: 128 });
  });

  test('scan lists items in id order, page by page, with filters', async () => {
    const store = await openStore();
    const items = corpus(25);
    await store.upsert([...items].reverse());
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.scan({ limit: 10, ...(after === undefined ? {} : { after }) });
      seen.push(...page.items.map((i) => i.id));
      if (page.next === undefined) break;
      after = page.next;
    }
    expect(seen).toEqual(items.map((i) => i.id));
    const nikon = await store.scan({ limit: 100, filter: { camera: 'nikon' } });
    expect(nikon.items.map((i) => i.id)).toEqual(items.filter((_, i) => i % 3 === 0).map((i) => i.id));
    expect(nikon.next).toBeUndefined();
    expect((await store.scan({ limit: 9, filter: { camera: 'nikon' } })).next).toBeUndefined();
    expect((await store.scan({ limit: 8, filter: { camera: 'nikon' } })).next).toBe('item-0021');
  });

  test('refuses a store written with another dimension or model', async () => {
    const store = await openStore();
    await store.upsert(corpus(3));
    await closeStore(store);

    await expect(openEmbeddedVectorStore({ dir: tmp.dir, dim: 64, modelId: MODEL_ID })).rejects.toThrow(
      ModelMismatchError,
    );
    const other = openEmbeddedVectorStore({ dir: tmp.dir, dim: DIM, modelId: 'other-model' });
    await expect(other).rejects.toThrow(ModelMismatchError);
    await expect(other).rejects.toThrow(/holds 32-d vectors of model "test-model".*"other-model"/);
    // The refusal changed nothing: the right caller still opens it.
    const again = await openStore();
    expect(await again.count()).toBe(3);
  });

  test('refuses items of another model or dimension, and malformed input', async () => {
    const store = await openStore();
    const [v] = unitVectors(1, DIM, 6);
    await expect(store.upsert([makeItem('a', v!, { modelId: 'other' })])).rejects.toThrow(ModelMismatchError);
    await expect(store.upsert([makeItem('a', unitVectors(1, 16, 1)[0]!)])).rejects.toThrow(
      ModelMismatchError,
    );
    await expect(
      store.upsert([
        makeItem(
          'a',
          v!.map((x) => x * 2),
        ),
      ]),
    ).rejects.toThrow(/L2-normalized/);
    await expect(
      store.upsert([
        makeItem(
          'a',
          v!.map(() => Number.NaN),
        ),
      ]),
    ).rejects.toThrow(InvalidInputError);
    await expect(store.upsert([makeItem('', v!)])).rejects.toThrow(InvalidInputError);
    await expect(store.upsert([{ ...makeItem('a', v!), width: -1 }])).rejects.toThrow(InvalidInputError);
    await expect(
      store.upsert([{ ...makeItem('a', v!), vector: Array.from(v!) as unknown as Float32Array }]),
    ).rejects.toThrow(/Float32Array/);
    // A batch with one bad item writes nothing.
    await expect(
      store.upsert([makeItem('good', v!), makeItem('bad', v!, { modelId: 'other' })]),
    ).rejects.toThrow();
    expect(await store.count()).toBe(0);

    await expect(store.search({ vector: v!, k: 0 })).rejects.toThrow(InvalidInputError);
    await expect(store.search({ vector: v!, k: 5, offset: -1 })).rejects.toThrow(InvalidInputError);
    await expect(store.search({ vector: v!, k: 10, offset: 9_995 })).rejects.toThrow(InvalidInputError);
    await expect(store.search({ vector: v!, k: 5, minScore: Number.NaN })).rejects.toThrow(InvalidInputError);
    await expect(store.search({ vector: new Float32Array(8), k: 5 })).rejects.toThrow(ModelMismatchError);
    const badFilters: unknown[] = [
      [],
      { a: null },
      { a: { prefix: 3 } },
      { a: { in: 'x' } },
      { a: { eq: 1, in: [1] } },
      { a: { gt: 1 } },
      { a: Number.POSITIVE_INFINITY },
      { '': 1 },
    ];
    for (const filter of badFilters) {
      await expect(store.search({ vector: v!, k: 5, filter: filter as never })).rejects.toThrow(
        InvalidInputError,
      );
      await expect(store.count(filter as never)).rejects.toThrow(InvalidInputError);
    }
    await expect(store.scan({ limit: 0 })).rejects.toThrow(InvalidInputError);
  });

  test('everything persists across close and reopen, deletes included', async () => {
    const items = corpus();
    let store = await openStore();
    await store.upsert(items);
    await store.delete(['item-0000', 'item-0001']);
    const query = items[5]!.vector;
    const before = await store.search({ vector: query, k: 10 });
    const filteredBefore = await store.search({ vector: query, k: 10, filter: { camera: 'canon' } });
    await closeStore(store);

    store = await openStore();
    expect(await store.count()).toBe(298);
    expect(await store.get(['item-0000', 'item-0002'])).toEqual([
      undefined,
      expect.objectContaining({ id: 'item-0002' }),
    ]);
    expect(await store.search({ vector: query, k: 10 })).toEqual(before);
    expect(await store.search({ vector: query, k: 10, filter: { camera: 'canon' } })).toEqual(filteredBefore);
    expect(Array.from((await store.getVector('item-0299'))!)).toEqual(Array.from(items[299]!.vector));
  });

  test.each([
    [
      'corrupted',
      (file: string) => {
        const bytes = readFileSync(file);
        for (let i = 64; i < bytes.length; i += 97) bytes[i] = bytes[i]! ^ 0xff;
        writeFileSync(file, bytes);
      },
    ],
    [
      'truncated',
      (file: string) => {
        writeFileSync(file, readFileSync(file).subarray(0, 1000));
      },
    ],
    [
      'missing',
      (file: string) => {
        rmSync(file);
      },
    ],
  ] as const)('a %s index snapshot is rebuilt from the item table', async (_, damage) => {
    const items = corpus();
    let store = await openStore({ exactSearchMaxCandidates: 1 });
    await store.upsert(items);
    await store.delete(['item-0003']);
    await closeStore(store);
    const snapshots = readdirSync(tmp.dir).filter((name) => name.endsWith('.hnsw'));
    expect(snapshots).toHaveLength(1);
    damage(join(tmp.dir, snapshots[0]!));

    store = await openStore({ exactSearchMaxCandidates: 1 });
    expect(await store.count()).toBe(299);
    const query = items[8]!.vector;
    const hits = await store.search({ vector: query, k: 10 });
    expect(hits.map((h) => h.item.id)).toEqual(
      exactIds(
        items.filter((i) => i.id !== 'item-0003'),
        query,
        10,
      ),
    );
    expect((await store.health()).detail).toMatch(/^299 items, 299 indexed/);
  });

  test('a second opener of the same directory is refused while the first holds it', async () => {
    const store = await openStore();
    await store.upsert(corpus(2));
    await expect(openEmbeddedVectorStore({ dir: tmp.dir, dim: DIM, modelId: MODEL_ID })).rejects.toThrow(
      BackendUnavailableError,
    );
    await closeStore(store);
    const next = await openStore();
    expect(await next.count()).toBe(2);
  });

  test('searches running during batched upserts see consistent results', async () => {
    const store = await openStore({ exactSearchMaxCandidates: 1, snapshotEvery: 200 });
    const items = corpus(1_000);
    const known = new Set(items.map((i) => i.id));
    const writes = (async () => {
      for (let start = 0; start < items.length; start += 100)
        await store.upsert(items.slice(start, start + 100));
    })();
    let searches = 0;
    const progress = { writing: true };
    void writes.finally(() => {
      progress.writing = false;
    });
    while (progress.writing) {
      const hits = await store.search({
        vector: items[searches % 1_000]!.vector,
        k: 10,
        filter: { camera: 'canon' },
      });
      expect(new Set(hits.map((h) => h.item.id)).size).toBe(hits.length);
      expect(hits.every((h) => known.has(h.item.id) && h.item.metadata.camera === 'canon')).toBe(true);
      searches++;
      // Searches resolve at once; a macrotask turn lets the writer's steps interleave, as I/O would.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writes;
    expect(searches).toBeGreaterThan(1);
    expect(await store.count()).toBe(1_000);
    const query = items[500]!.vector;
    expect((await store.search({ vector: query, k: 1 }))[0]?.item.id).toBe('item-0500');
    expect((await store.health()).ok).toBe(true);
  });

  test('health reports the store, and a closed store refuses work', async () => {
    const store = await openStore();
    await store.upsert(corpus(4));
    expect(await store.health()).toEqual({
      ok: true,
      detail: '4 items, 4 indexed, 4 changes since the index snapshot',
    });
    await closeStore(store);
    expect((await store.health()).ok).toBe(false);
    await expect(store.count()).rejects.toThrow(BackendUnavailableError);
    await store.close();
  });
});
