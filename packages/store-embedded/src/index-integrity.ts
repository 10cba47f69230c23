import type { AnnIndex } from './ann-index';
import type { ItemTable } from './item-table';

/** What checkIndexIntegrity found. */
export interface IndexIntegrity {
  /** Items in the item table. */
  readonly items: number;
  /** Live vectors in the index. */
  readonly indexed: number;
  /** Items whose label the index lacks. */
  readonly missing: number;
  /** Items whose label the index holds with another vector. */
  readonly mismatched: number;
}

/** Vectors read from the item table per page. */
const PAGE = 8_192;

/**
 * Checks that the index holds exactly the item table: every item under its label with the same vector,
 * nothing else live. What a crash must never break. Reads every vector: for diagnostics and tests, not for
 * a health probe.
 */
export function checkIndexIntegrity(table: ItemTable, index: AnnIndex): IndexIntegrity {
  let items = 0;
  let missing = 0;
  let mismatched = 0;
  for (const page of table.vectorPages(PAGE)) {
    for (const { label, vector } of page) {
      const indexed = index.vectorOf(label);
      if (indexed === undefined) missing++;
      else if (indexed.some((x, i) => x !== vector[i])) mismatched++;
    }
    items += page.length;
  }
  return { items, indexed: index.size, missing, mismatched };
}
