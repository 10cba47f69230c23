import { BackendUnavailableError, InvalidInputError } from '../errors/clip-search-error';
import { checkFilter, matchesFilter } from '../vector-store/metadata-filter';
import { checkItem, checkSearchRequest } from '../vector-store/vector-store-rules';
import type {
  ItemRecord,
  Metadata,
  MetadataFilter,
  ScanPage,
  SearchHit,
  SearchRequest,
  VectorItem,
  VectorStore,
} from '../vector-store/vector-store';

export interface MemoryVectorStoreOptions {
  readonly dim: number;
  readonly modelId: string;
}

/** The largest page `scan` serves, as in the embedded store. */
const MAX_SCAN_LIMIT = 10_000;

/** One item as the store keeps it: nothing the caller passed in is shared with it. */
interface StoredItem {
  /** The record without its metadata, which is kept as JSON (the form a durable store returns). */
  readonly record: Omit<ItemRecord, 'metadata'>;
  readonly metadataJson: string;
  /** The record with the scalars of the metadata as upserted: what filters see. */
  readonly filterable: ItemRecord;
  readonly vector: Float32Array;
}

/**
 * A VectorStore in a Map: exact brute-force search, nothing on disk, nothing native. The reference the
 * VectorStore conformance kits check real stores against, and a light store for tests that are not about
 * storage. It refuses what every store refuses, with the same errors (the shared rules of
 * vector-store-rules.ts and checkFilter), and answers like the embedded store where that one is exact:
 * scores are dot products (the vectors are unit length) clamped to [-1, 1], ties in id order, `minScore`
 * applied before the page is cut, `scan` in id order by code point (as SQLite orders text). Reads return
 * fresh copies, as a store that parses its rows would.
 */
export class MemoryVectorStore implements VectorStore {
  readonly dim: number;
  readonly modelId: string;
  private readonly items = new Map<string, StoredItem>();
  /** Ids in scan order, computed when a scan needs them after a write. */
  private sortedIds: string[] | undefined;
  private closed = false;

  constructor(options: MemoryVectorStoreOptions) {
    if (!Number.isInteger(options.dim) || options.dim <= 0)
      throw new InvalidInputError(`dim must be a positive integer, got ${options.dim}`);
    if (typeof options.modelId !== 'string' || options.modelId.length === 0)
      throw new InvalidInputError('modelId must be a non-empty string');
    this.dim = options.dim;
    this.modelId = options.modelId;
  }

  upsert(items: readonly VectorItem[]): Promise<void> {
    return this.whileOpen(() => {
      const given: unknown = items;
      if (!Array.isArray(given)) throw new InvalidInputError('upsert takes an array of items');
      // Every item is checked before any is stored: a batch with one bad item writes nothing.
      for (const item of given) checkItem(item, { modelId: this.modelId, dim: this.dim });
      // Within one call the last item of an id wins, as if they had been upserted one after the other.
      for (const item of items) this.items.set(item.id, this.stored(item));
      if (items.length > 0) this.sortedIds = undefined;
    });
  }

  delete(ids: readonly string[]): Promise<number> {
    return this.whileOpen(() => {
      checkIds(ids, 'delete takes an array of id strings');
      let deleted = 0;
      for (const id of new Set(ids)) if (this.items.delete(id)) deleted++;
      if (deleted > 0) this.sortedIds = undefined;
      return deleted;
    });
  }

  get(ids: readonly string[]): Promise<(ItemRecord | undefined)[]> {
    return this.whileOpen(() => {
      checkIds(ids, 'get takes an array of id strings');
      return ids.map((id) => {
        const item = this.items.get(id);
        return item && recordOf(item);
      });
    });
  }

  getVector(id: string): Promise<Float32Array | undefined> {
    return this.whileOpen(() => {
      if (typeof id !== 'string') throw new InvalidInputError('getVector takes an id string');
      return this.items.get(id)?.vector.slice();
    });
  }

  count(filter?: MetadataFilter): Promise<number> {
    return this.whileOpen(() => {
      if (filter === undefined) return this.items.size;
      checkFilter(filter);
      let count = 0;
      for (const item of this.items.values()) if (matchesFilter(item.filterable, filter)) count++;
      return count;
    });
  }

  search(request: SearchRequest): Promise<SearchHit[]> {
    return this.whileOpen(() => {
      checkSearchRequest(request, this.dim);
      const { vector, k, offset = 0, minScore, filter } = request;
      if (filter !== undefined) checkFilter(filter);
      let ranked: { score: number; item: StoredItem }[] = [];
      for (const item of this.items.values()) {
        if (filter !== undefined && !matchesFilter(item.filterable, filter)) continue;
        ranked.push({ score: innerProduct(vector, item.vector), item });
      }
      ranked.sort((a, b) => b.score - a.score || byUnits(a.item.record.id, b.item.record.id));
      if (minScore !== undefined) ranked = ranked.filter((hit) => hit.score >= minScore);
      // Cosine of unit vectors, up to float32 rounding: an identical image must not score 1.0000000014.
      return ranked.slice(offset, offset + k).map((hit) => ({
        score: Math.min(1, Math.max(-1, hit.score)),
        item: recordOf(hit.item),
      }));
    });
  }

  scan(options: {
    readonly filter?: MetadataFilter;
    readonly after?: string;
    readonly limit: number;
  }): Promise<ScanPage> {
    return this.whileOpen(() => {
      const { filter, after, limit } = options;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SCAN_LIMIT)
        throw new InvalidInputError(`scan limit must be an integer from 1 to ${MAX_SCAN_LIMIT}`);
      if (after !== undefined && typeof after !== 'string')
        throw new InvalidInputError('scan `after` must be an id string');
      if (filter !== undefined) checkFilter(filter);
      this.sortedIds ??= [...this.items.keys()].sort(byCodePoints);
      const items: ItemRecord[] = [];
      for (const id of this.sortedIds) {
        if (after !== undefined && byCodePoints(id, after) <= 0) continue;
        const item = this.items.get(id);
        if (item === undefined || (filter !== undefined && !matchesFilter(item.filterable, filter))) continue;
        if (items.length === limit) return { items, next: (items.at(-1) as ItemRecord).id };
        items.push(recordOf(item));
      }
      return { items };
    });
  }

  health(): Promise<{ readonly ok: boolean; readonly detail?: string }> {
    return Promise.resolve(
      this.closed
        ? { ok: false, detail: 'closed' }
        : { ok: true, detail: `${this.items.size} items in memory` },
    );
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private stored(item: VectorItem): StoredItem {
    const record = {
      id: item.id,
      uri: item.uri,
      contentHash: item.contentHash,
      width: item.width,
      height: item.height,
      modelId: this.modelId,
      ingestedAt: item.ingestedAt,
    };
    return {
      record,
      metadataJson: JSON.stringify(item.metadata),
      filterable: { ...record, metadata: filterableFields(item.metadata) },
      vector: item.vector.slice(),
    };
  }

  /** Runs a synchronous body as a promise that rejects (a throw, or a closed store) as a store's calls do. */
  private whileOpen<T>(body: () => T): Promise<T> {
    try {
      if (this.closed) throw new BackendUnavailableError('the vector store is closed');
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function checkIds(ids: unknown, message: string): asserts ids is readonly string[] {
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw new InvalidInputError(message);
}

function recordOf(item: StoredItem): ItemRecord {
  return { ...item.record, metadata: JSON.parse(item.metadataJson) as Metadata };
}

/**
 * A copy of the top-level scalars of `metadata` as given, not as JSON would turn them (a Date is not a
 * string field): a store indexes the values it was handed.
 */
function filterableFields(metadata: Metadata): Metadata {
  // No prototype: a field named `__proto__` is a field like any other.
  const fields = Object.create(null) as Record<string, string | number | boolean>;
  for (const [key, value] of Object.entries(metadata))
    if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number')
      fields[key] = value;
  return fields;
}

function innerProduct(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** UTF-16 unit order (`<`): how the embedded store breaks score ties. */
function byUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Code point order, the order of UTF-8 bytes (SQLite's BINARY collation) rather than of UTF-16 units
 * (`<`): the two differ where a surrogate (an astral character) meets a unit from U+E000 to U+FFFF.
 */
function byCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates above U+E000–U+FFFF, where the code points they encode sort. */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}
