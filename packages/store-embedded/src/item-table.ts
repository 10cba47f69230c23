import Database from 'better-sqlite3';

import type { ItemRecord, Metadata, VectorItem } from '@clip-search/contracts';
import { openDurableDatabase } from '@clip-search/sqlite';
import { fieldRows, type SqlCondition } from './metadata-fields';

/**
 * The durable source of truth of the embedded store: one SQLite database holding every item, its vector (a
 * little-endian float32 BLOB) and a change sequence. The ANN index is only a cache of it, rebuilt or caught up
 * from here on open.
 *
 * Every write transaction takes the next `seq`. An upserted item's row carries the seq of its write; a
 * deleted or replaced item leaves its label in `removed_labels` with the seq of that write. Labels (the integer keys
 * of the ANN index) come from AUTOINCREMENT and are never reused, so "rows with seq > S plus removed labels
 * with seq > S" is exactly what an index snapshot taken at S is missing.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS items (
  label INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  uri TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  ingested_at TEXT NOT NULL,
  metadata TEXT NOT NULL,
  vector BLOB NOT NULL,
  seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS items_uri ON items (uri);
CREATE INDEX IF NOT EXISTS items_seq ON items (seq);
-- value has no declared type, hence no affinity: strings stay strings, numbers stay numbers.
CREATE TABLE IF NOT EXISTS item_fields (
  label INTEGER NOT NULL,
  key TEXT NOT NULL,
  kind INTEGER NOT NULL,
  value,
  PRIMARY KEY (label, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS item_fields_value ON item_fields (key, kind, value, label);
CREATE TABLE IF NOT EXISTS removed_labels (label INTEGER PRIMARY KEY, seq INTEGER NOT NULL);
`;

interface ItemRow {
  label: number;
  id: string;
  uri: string;
  content_hash: string;
  width: number;
  height: number;
  ingested_at: string;
  metadata: string;
}

export interface LabelledVector {
  readonly label: number;
  readonly vector: Float32Array;
}

export interface Candidate {
  readonly label: number;
  readonly id: string;
}

const ITEM_COLUMNS = 'i.label, i.id, i.uri, i.content_hash, i.width, i.height, i.ingested_at, i.metadata';

/** Filters make the SQL vary; the distinct shapes are few, so prepared statements are cached by text. */
const STATEMENT_CACHE_SIZE = 256;

export class ItemTable {
  private readonly statements;
  private readonly cache = new Map<string, Database.Statement>();

  private constructor(
    private readonly db: Database.Database,
    private readonly modelId: string,
  ) {
    const prepare = (sql: string): Database.Statement => db.prepare(sql);
    this.statements = {
      getMeta: prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      insertItem: prepare(
        `INSERT INTO items (id, uri, content_hash, width, height, ingested_at, metadata, vector, seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING label`,
      ).pluck(),
      deleteItem: prepare('DELETE FROM items WHERE id = ? RETURNING label').pluck(),
      deleteFields: prepare('DELETE FROM item_fields WHERE label = ?'),
      insertField: prepare('INSERT INTO item_fields (label, key, kind, value) VALUES (?, ?, ?, ?)'),
      insertRemoved: prepare('INSERT OR REPLACE INTO removed_labels (label, seq) VALUES (?, ?)'),
      pruneRemoved: prepare('DELETE FROM removed_labels WHERE seq <= ?'),
      getById: prepare(`SELECT ${ITEM_COLUMNS} FROM items i WHERE i.id = ?`),
      vectorById: prepare('SELECT vector FROM items WHERE id = ?').pluck(),
      countAll: prepare('SELECT count(*) FROM items').pluck(),
      changedSince: prepare('SELECT label, vector FROM items WHERE seq > ? ORDER BY label'),
      removedSince: prepare('SELECT label FROM removed_labels WHERE seq > ?').pluck(),
      allVectors: prepare('SELECT label, vector FROM items WHERE label > ? ORDER BY label LIMIT ?'),
      byLabels: prepare(
        `SELECT ${ITEM_COLUMNS} FROM items i WHERE i.label IN (SELECT value FROM json_each(?))`,
      ),
    };
  }

  /**
   * Opens (creating when absent) the database at `path`, durable and exclusive (see openDurableDatabase).
   * One process owns a store, since each process keeps its own in-memory index that would miss the other's
   * writes: a second opener fails at once with SQLITE_BUSY.
   */
  static open(path: string, modelId: string): ItemTable {
    const db = openDurableDatabase(path, SCHEMA, 0);
    try {
      return new ItemTable(db, modelId);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  private prepared(sql: string): Database.Statement {
    let statement = this.cache.get(sql);
    if (!statement) {
      if (this.cache.size >= STATEMENT_CACHE_SIZE) this.cache.clear();
      statement = this.db.prepare(sql);
      this.cache.set(sql, statement);
    }
    return statement;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  getMeta(key: string): string | undefined {
    return this.statements.getMeta.get(key) as string | undefined;
  }

  setMeta(entries: Readonly<Record<string, string>>): void {
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(entries)) this.statements.setMeta.run(key, value);
    })();
  }

  /** The seq of the last committed write (0 for a new store). */
  currentSeq(): number {
    return Number(this.getMeta('seq') ?? '0');
  }

  /**
   * Inserts the items in one transaction, replacing those whose id exists. A replaced item gets a new label
   * and its old one is recorded as removed: the index then only ever inserts and deletes, never rewrites a
   * node in place (an HNSW update can leave the node's old neighbours unreachable). Returns the new labels
   * (in order), the labels replaced, and the write's seq.
   */
  upsert(items: readonly VectorItem[]): { labels: number[]; replaced: number[]; seq: number } {
    return this.db.transaction(() => {
      const seq = this.nextSeq();
      const replaced: number[] = [];
      const labels = items.map((item) => {
        const old = this.removeItem(item.id, seq);
        if (old !== undefined) replaced.push(old);
        const label = this.statements.insertItem.get(
          item.id,
          item.uri,
          item.contentHash,
          item.width,
          item.height,
          item.ingestedAt,
          JSON.stringify(item.metadata),
          Buffer.from(item.vector.buffer, item.vector.byteOffset, item.vector.byteLength),
          seq,
        ) as number;
        for (const field of fieldRows(item.metadata)) {
          this.statements.insertField.run(label, field.key, field.kind, field.value);
        }
        return label;
      });
      return { labels, replaced, seq };
    })();
  }

  /** Deletes the items that exist in one transaction; returns the labels they had and the write's seq. */
  delete(ids: readonly string[]): { labels: number[]; seq: number } {
    return this.db.transaction(() => {
      const seq = this.nextSeq();
      const labels: number[] = [];
      for (const id of new Set(ids)) {
        const label = this.removeItem(id, seq);
        if (label !== undefined) labels.push(label);
      }
      return { labels, seq };
    })();
  }

  /** Removes one item (inside a write transaction), recording its label as removed at `seq`. */
  private removeItem(id: string, seq: number): number | undefined {
    const label = this.statements.deleteItem.get(id) as number | undefined;
    if (label === undefined) return undefined;
    this.statements.deleteFields.run(label);
    this.statements.insertRemoved.run(label, seq);
    return label;
  }

  private nextSeq(): number {
    const seq = this.currentSeq() + 1;
    this.statements.setMeta.run('seq', String(seq));
    return seq;
  }

  /** Once a snapshot covers `seq`, deletes at or before it no longer need replaying. */
  pruneRemovedThrough(seq: number): void {
    this.statements.pruneRemoved.run(seq);
  }

  get(id: string): ItemRecord | undefined {
    const row = this.statements.getById.get(id) as ItemRow | undefined;
    return row && this.toRecord(row);
  }

  getVector(id: string): Float32Array | undefined {
    const blob = this.statements.vectorById.get(id) as Buffer | undefined;
    return blob && new Float32Array(copyToFloat32(blob));
  }

  countAll(): number {
    return this.statements.countAll.get() as number;
  }

  count(condition: SqlCondition): number {
    return this.prepared(`SELECT count(*) FROM items i WHERE ${condition.sql}`)
      .pluck()
      .get(...condition.params) as number;
  }

  scan(condition: SqlCondition, after: string | undefined, limit: number): ItemRecord[] {
    const rows = this.prepared(
      `SELECT ${ITEM_COLUMNS} FROM items i WHERE ${condition.sql} ${after === undefined ? '' : 'AND i.id > ?'} ORDER BY i.id LIMIT ?`,
    ).all(...condition.params, ...(after === undefined ? [] : [after]), limit) as ItemRow[];
    return rows.map((row) => this.toRecord(row));
  }

  /** Labels of the items matching `condition`, at most `limit` of them. */
  labelsMatching(condition: SqlCondition, limit: number): number[] {
    return this.prepared(`SELECT i.label FROM items i WHERE ${condition.sql} LIMIT ?`)
      .pluck()
      .all(...condition.params, limit) as number[];
  }

  /** Of `labels`, those whose item matches `condition`, with their ids. */
  matching(labels: readonly number[], condition: SqlCondition): Candidate[] {
    return this.prepared(
      `SELECT i.label, i.id FROM items i WHERE i.label IN (SELECT value FROM json_each(?)) AND ${condition.sql}`,
    ).all(JSON.stringify(labels), ...condition.params) as Candidate[];
  }

  /** Every item matching `condition` with its vector: the candidates of an exact search. */
  *vectorsMatching(condition: SqlCondition): Generator<Candidate & { vector: Float32Array }> {
    const rows = this.prepared(`SELECT i.label, i.id, i.vector FROM items i WHERE ${condition.sql}`).iterate(
      ...condition.params,
    ) as IterableIterator<Candidate & { vector: Buffer }>;
    for (const row of rows) yield { label: row.label, id: row.id, vector: asFloat32(row.vector) };
  }

  /** Records for the given labels, keyed by label (labels no longer stored are absent). */
  recordsByLabel(labels: readonly number[]): Map<number, ItemRecord> {
    const rows = this.statements.byLabels.all(JSON.stringify(labels)) as ItemRow[];
    return new Map(rows.map((row) => [row.label, this.toRecord(row)]));
  }

  /** Items written after `seq` (to re-add to an index snapshot taken at `seq`), in label order. */
  *changedSince(seq: number): Generator<LabelledVector> {
    for (const row of this.statements.changedSince.iterate(seq) as IterableIterator<{
      label: number;
      vector: Buffer;
    }>) {
      yield { label: row.label, vector: asFloat32(row.vector) };
    }
  }

  /** Labels deleted after `seq`. */
  removedSince(seq: number): number[] {
    return this.statements.removedSince.all(seq) as number[];
  }

  /**
   * Every vector in label order, in pages of up to `pageSize` (each page one query, read when asked for):
   * how a full rebuild or an integrity check walks the table without holding it all.
   */
  *vectorPages(pageSize: number): Generator<LabelledVector[]> {
    for (let after = 0; ;) {
      const rows = this.statements.allVectors.all(after, pageSize) as { label: number; vector: Buffer }[];
      const last = rows.at(-1);
      if (last === undefined) return;
      yield rows.map((row) => ({ label: row.label, vector: asFloat32(row.vector) }));
      after = last.label;
    }
  }

  private toRecord(row: ItemRow): ItemRecord {
    return {
      id: row.id,
      uri: row.uri,
      contentHash: row.content_hash,
      width: row.width,
      height: row.height,
      modelId: this.modelId,
      ingestedAt: row.ingested_at,
      metadata: JSON.parse(row.metadata) as Metadata,
    };
  }
}

/** A float32 view of a BLOB, copying only when the buffer is not 4-byte aligned. */
function asFloat32(blob: Buffer): Float32Array {
  if (blob.byteOffset % 4 === 0) return new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  return new Float32Array(copyToFloat32(blob));
}

function copyToFloat32(blob: Buffer): ArrayBuffer {
  const copy = new ArrayBuffer(blob.byteLength);
  new Uint8Array(copy).set(blob);
  return copy;
}
