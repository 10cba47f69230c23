import { exactTopK, lowRankUnitVectors, recall, rowOf } from '@clip-search/contracts/testing';
import {
  type EmbeddedVectorStore,
  openEmbeddedVectorStore,
  type SearchPlan,
} from '../src/embedded-vector-store';
import { makeItem, MODEL_ID, temporaryDir } from '@clip-search/contracts/testing';

const DIM = 512;
const COUNT = 10_000;
const QUERIES = 100;
const K = 10;

/**
 * Recall@10 of the store's approximate path against brute force, on seeded 512-d vectors with the low-rank
 * structure of real embeddings (uniform random vectors have no neighbourhoods to find: see
 * lowRankUnitVectors). 10k items keep the build to seconds; bench/search-store.ts measures 100k.
 */
describe('embedded vector store recall', () => {
  const tmp = temporaryDir('vector-store-recall-');
  const vectors = lowRankUnitVectors(COUNT, DIM, 21);
  const queries = lowRankUnitVectors(QUERIES, DIM, 22);
  const idOf = (row: number): string => `item-${String(row).padStart(5, '0')}`;
  const plans: SearchPlan[] = [];
  let store: EmbeddedVectorStore;

  beforeAll(async () => {
    store = await openEmbeddedVectorStore({
      dir: tmp.dir,
      dim: DIM,
      modelId: MODEL_ID,
      // A smaller efConstruction than the default halves the build; recall is still well above the bar.
      expansionAdd: 64,
      exactSearchMaxCandidates: 100,
      onSearch: (plan) => plans.push(plan),
    });
    const items = Array.from({ length: COUNT }, (_, row) =>
      makeItem(idOf(row), rowOf(vectors, DIM, row), { metadata: { shard: row % 10 } }),
    );
    for (let start = 0; start < COUNT; start += 1_000) await store.upsert(items.slice(start, start + 1_000));
  }, 120_000);

  afterAll(async () => {
    await store.close();
    tmp.remove();
  });

  test('recall@10 ≥ 0.95 against exact search', async () => {
    let sum = 0;
    for (let q = 0; q < QUERIES; q++) {
      const query = rowOf(queries, DIM, q);
      const hits = await store.search({ vector: query, k: K });
      sum += recall(
        hits.map((h) => h.item.id),
        exactTopK(vectors, DIM, query, K).map(idOf),
      );
    }
    expect(plans.every((plan) => plan.path === 'approximate')).toBe(true);
    expect(sum / QUERIES).toBeGreaterThanOrEqual(0.95);
  });

  test('recall@10 ≥ 0.95 with a filter keeping 10% of the items', async () => {
    plans.length = 0;
    let sum = 0;
    for (let q = 0; q < QUERIES; q++) {
      const query = rowOf(queries, DIM, q);
      const hits = await store.search({ vector: query, k: K, filter: { shard: 3 } });
      expect(hits.every((h) => h.item.metadata.shard === 3)).toBe(true);
      sum += recall(
        hits.map((h) => h.item.id),
        exactTopK(vectors, DIM, query, K, (row) => row % 10 === 3).map(idOf),
      );
    }
    expect(plans.every((plan) => plan.path === 'approximate')).toBe(true);
    expect(sum / QUERIES).toBeGreaterThanOrEqual(0.95);
  });
});
