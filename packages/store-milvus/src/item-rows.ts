import type { RowData } from '@zilliz/milvus2-sdk-node';

import {
  checkItem,
  InvalidInputError,
  type ItemRecord,
  type Metadata,
  type StoreIdentity,
  type VectorItem,
} from '@clip-search/contracts';
import { FIELDS, VALUE_LIMITS } from './collection-layout';
import { filterableFields, hasLoneSurrogate } from './filter-expression';

/** One item as Milvus takes it (the SDK serializes the JSON fields). */
export type ItemRow = RowData;

/** An item ready to write: its row and about how many bytes of a request it takes. */
export interface EncodedItem {
  readonly id: string;
  readonly row: ItemRow;
  readonly bytes: number;
}

/** Per row, beyond its values: field tags, lengths, the offsets of the JSON values. */
const ROW_OVERHEAD_BYTES = 128;

/**
 * Checks every item (the shared rules, then what Milvus cannot store: over-long text, lone surrogates,
 * JSON over its 64 KB, sizes past an Int32) before any is written, and encodes them. Within one call
 * the last item of an id wins, as if they had been upserted one after the other.
 */
export function encodeItems(given: unknown, identity: StoreIdentity): EncodedItem[] {
  if (!Array.isArray(given)) throw new InvalidInputError('upsert takes an array of items');
  const items = given as unknown[];
  const byId = new Map<string, EncodedItem>();
  for (const item of items) {
    checkItem(item, identity);
    const encoded = encodeItem(item);
    // Deleted first, so that the map's order is that of each id's last occurrence.
    byId.delete(encoded.id);
    byId.set(encoded.id, encoded);
  }
  return [...byId.values()];
}

function encodeItem(item: VectorItem): EncodedItem {
  const where = `item "${item.id}"`;
  let bytes = ROW_OVERHEAD_BYTES + item.vector.length * 4 + 8;
  const text = (field: string, value: string): string => {
    if (hasLoneSurrogate(value))
      throw new InvalidInputError(`${where}: ${field} holds a lone surrogate; Milvus stores text as UTF-8`);
    const length = Buffer.byteLength(value);
    if (length > VALUE_LIMITS.varcharBytes)
      throw new InvalidInputError(
        `${where}: ${field} is ${length} bytes as UTF-8; Milvus stores at most ${VALUE_LIMITS.varcharBytes}`,
      );
    bytes += length;
    return value;
  };
  const json = <T>(field: string, value: T): T => {
    const length = Buffer.byteLength(JSON.stringify(value));
    if (length > VALUE_LIMITS.jsonBytes)
      throw new InvalidInputError(
        `${where}: ${field} is ${length} bytes as JSON; Milvus stores at most ${VALUE_LIMITS.jsonBytes}`,
      );
    bytes += length;
    return value;
  };
  for (const size of ['width', 'height'] as const)
    if (item[size] > VALUE_LIMITS.int32)
      throw new InvalidInputError(`${where}: ${size} is larger than Milvus's Int32 (${VALUE_LIMITS.int32})`);
  const row: ItemRow = {
    [FIELDS.id]: text('id', item.id),
    [FIELDS.vector]: Array.from(item.vector),
    [FIELDS.uri]: text('uri', item.uri),
    [FIELDS.contentHash]: text('contentHash', item.contentHash),
    [FIELDS.width]: item.width,
    [FIELDS.height]: item.height,
    [FIELDS.modelId]: text('modelId', item.modelId),
    [FIELDS.ingestedAt]: text('ingestedAt', item.ingestedAt),
    // As JSON carries it: what a read gives back, whatever the object was (a Date becomes a string…).
    [FIELDS.metadata]: json('metadata', JSON.parse(JSON.stringify(item.metadata)) as Record<string, unknown>),
    [FIELDS.filterable]: json('its filterable copy', filterableFields(item.uri, item.metadata)),
  };
  return { id: item.id, row, bytes };
}

/** Items in requests of at most `maxBytes` each (an item larger than that goes alone), in order. */
export function batchesOf(items: readonly EncodedItem[], maxBytes: number): EncodedItem[][] {
  const batches: EncodedItem[][] = [];
  let batch: EncodedItem[] = [];
  let size = 0;
  for (const item of items) {
    if (batch.length > 0 && size + item.bytes > maxBytes) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(item);
    size += item.bytes;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** An item record from a query result row of RECORD_FIELDS. */
export function recordOf(row: Readonly<Record<string, unknown>>): ItemRecord {
  return {
    id: row[FIELDS.id] as string,
    uri: row[FIELDS.uri] as string,
    contentHash: row[FIELDS.contentHash] as string,
    width: Number(row[FIELDS.width]),
    height: Number(row[FIELDS.height]),
    modelId: row[FIELDS.modelId] as string,
    ingestedAt: row[FIELDS.ingestedAt] as string,
    metadata: (row[FIELDS.metadata] ?? {}) as Metadata,
  };
}
