import fs from 'node:fs';
import Database from 'better-sqlite3';

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
