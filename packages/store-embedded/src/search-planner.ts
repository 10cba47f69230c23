import type { SearchHit, SearchRequest } from '@clip-search/contracts';
import type { AnnIndex } from './ann-index';
import type { ItemTable } from './item-table';
import { type CompiledFilter, compileFilter } from './metadata-fields';
import { byScoreThenId, innerProduct, type Scored } from './scoring';

/** How one search was answered. */
export interface SearchPlan {
  /** `exact`: every item the filter leaves was scored; `approximate`: the HNSW index was searched. */
  readonly path: 'exact' | 'approximate';
  /** Items scored (exact) or candidates taken from the index (approximate, the final depth). */
  readonly scanned: number;
}

/** Filtered approximate searches deepen until this many times the wanted hits pass the filter. */
const CANDIDATE_MARGIN = 3;

export interface SearchPlannerParts {
  readonly table: ItemTable;
  /** The index as it is now (a load or rebuild replaces it). */
  readonly index: () => AnnIndex;
  /** Filters that leave at most this many items are answered by exact search. */
  readonly exactMax: number;
  /** HNSW ef at search time, the depth of the first result window. */
  readonly expansionSearch: number;
  readonly onSearch?: ((plan: SearchPlan) => void) | undefined;
}

/**
 * Answers a search exactly when the filter leaves at most `exactMax` items (or the store is that small);
 * otherwise from HNSW searched `expansionSearch` deep, the filter applied to the candidates (by the item
 * table), deepening ×4 while too few pass. (Testing the filter inside the traversal, hnswlib's callback,
 * measured slower than this at every selectivity: see bench/vector-index-choice.ts.) Every page of one query
 * is cut from the same candidate list as long as offset + k stays within the first depth, so page 2
 * continues page 1.
 */
export class SearchPlanner {
  constructor(private readonly parts: SearchPlannerParts) {}

  /** The page of hits of a request already checked (checkSearchRequest). */
  search(request: SearchRequest): SearchHit[] {
    const { table, exactMax, onSearch } = this.parts;
    const { vector, k, offset = 0, minScore } = request;
    const filter = compileFilter(request.filter);
    const want = offset + k;
    // Whether the filter leaves few enough items to score them all, counted no further than that.
    const selective = filter.matchesAll
      ? this.parts.index().size <= exactMax
      : table.labelsMatching(filter.select, exactMax + 1).length <= exactMax;
    let ranked: Scored<number>[];
    if (selective) {
      ranked = this.exactCandidates(vector, filter);
      onSearch?.({ path: 'exact', scanned: ranked.length });
    } else {
      const approximate = this.approximateCandidates(vector, filter, want, minScore);
      ranked = approximate.ranked;
      onSearch?.({ path: 'approximate', scanned: approximate.depth });
    }
    if (minScore !== undefined) ranked = ranked.filter((hit) => hit.score >= minScore);
    const page = ranked.slice(offset, want);
    const records = table.recordsByLabel(page.map((hit) => hit.value));
    const hits: SearchHit[] = [];
    for (const hit of page) {
      const item = records.get(hit.value);
      // Cosine of unit vectors, up to float32 rounding: an identical image must not score 1.0000000014.
      if (item) hits.push({ score: Math.min(1, Math.max(-1, hit.score)), item });
    }
    return hits;
  }

  private exactCandidates(query: Float32Array, filter: CompiledFilter): Scored<number>[] {
    const scored: Scored<number>[] = [];
    for (const row of this.parts.table.vectorsMatching(filter.select)) {
      scored.push({ score: innerProduct(query, row.vector), id: row.id, value: row.label });
    }
    return scored.sort(byScoreThenId);
  }

  private approximateCandidates(
    query: Float32Array,
    filter: CompiledFilter,
    want: number,
    minScore: number | undefined,
  ): { ranked: Scored<number>[]; depth: number } {
    const index = this.parts.index();
    let depth = this.parts.expansionSearch;
    // Deeper windows come in fixed steps so that every page within a step shares one candidate list.
    while (depth <= want) depth *= 4;
    for (;;) {
      const found = index.search(query, depth);
      const scoreOf = new Map<number, number>();
      found.labels.forEach((label, i) => scoreOf.set(label, found.scores[i] ?? Number.NEGATIVE_INFINITY));
      // The item table has the final word: it drops what a filter excludes (and anything already deleted).
      const passing = this.parts.table.matching(found.labels, filter.probe);
      const ranked = passing
        .map((candidate) => ({
          score: scoreOf.get(candidate.label) ?? Number.NEGATIVE_INFINITY,
          id: candidate.id,
          value: candidate.label,
        }))
        .sort(byScoreThenId);
      const exhausted = found.labels.length < depth || depth >= index.size;
      const lowest = found.scores[found.scores.length - 1];
      const belowMinScore = minScore !== undefined && lowest !== undefined && lowest < minScore;
      // A margin of candidates beyond the page: the last items of an approximate list are its least sure.
      if (ranked.length >= CANDIDATE_MARGIN * want || exhausted || belowMinScore) return { ranked, depth };
      // Deepen, by whole steps, to where the pass rate seen so far would give that margin.
      const needed = (CANDIDATE_MARGIN * want * found.labels.length) / Math.max(ranked.length, 1);
      do depth *= 4;
      while (depth < needed && depth < index.size);
    }
  }
}
