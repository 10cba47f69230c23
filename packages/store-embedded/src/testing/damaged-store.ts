import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { VectorItem } from '@clip-search/contracts';

/**
 * Overwrites `count` leaf pages of one b-tree of a store file (`items`, the table; `sqlite_autoindex_items_1`,
 * its id index; …), from its middle, with garbage: the damage a bad disk sector or a torn copy leaves.
 * Damage to an index is what opening a store does not read, so that a server would start and serve from
 * it. Returns the page numbers damaged. The store must be closed.
 */
export function damageLeafPages(file: string, btree: string, count: number): number[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  let pages: number[];
  let pageSize: number;
  try {
    pageSize = db.pragma('page_size', { simple: true }) as number;
    pages = db
      .prepare("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno")
      .pluck()
      .all(btree) as number[];
  } finally {
    db.close();
  }
  const start = Math.floor(pages.length / 2 - count / 2);
  const damaged = pages.slice(start, start + count);
  if (damaged.length !== count) throw new Error(`${btree} has only ${pages.length} leaf pages`);
  const fd = fs.openSync(file, 'r+');
  try {
    for (const page of damaged) {
      fs.writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (page - 1) * pageSize);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return damaged;
}

/**
 * `count` items `item-0…` of `modelId`, each with its own unit vector (two components per item), to fill a
 * store that a test then damages and recovers: every survivor can be recognised by its id and vector.
 */
export function distinctItems(count: number, dim: number, modelId: string): VectorItem[] {
  return Array.from({ length: count }, (_, i) => {
    const vector = new Float32Array(dim);
    vector[i % dim] = 0.6;
    vector[(i * 7 + 1) % dim] = (vector[(i * 7 + 1) % dim] ?? 0) + 0.8;
    const norm = Math.hypot(...vector);
    return {
      id: `item-${i}`,
      uri: `file:///corpus/${i}.jpg`,
      contentHash: `${i}-1`,
      width: 10,
      height: 10,
      modelId,
      ingestedAt: '2026-01-02T03:04:05.000Z',
      metadata: { n: i },
      vector: vector.map((x) => x / norm),
    };
  });
}
