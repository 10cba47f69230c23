/**
 * The port every service stores and searches vectors through. Adapters: the embedded on-disk store
 * (default, one machine) and Milvus (distributed). Scores are cosine similarities of L2-normalized vectors.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Metadata = Readonly<Record<string, JsonValue>>;

/** What is stored per image besides its vector. */
export interface ItemRecord {
  /** Stable id (a hash of the source URI for ingested files). */
  readonly id: string;
  /** Where the image lives: file:///…, s3://…, or an upload's URI. */
  readonly uri: string;
  /** Content hash or ETag: unchanged sources are skipped on re-ingest. */
  readonly contentHash: string;
  readonly width: number;
  readonly height: number;
  /** The embedder model id the vector comes from. */
  readonly modelId: string;
  /** ISO 8601 time the item was (last) ingested. */
  readonly ingestedAt: string;
  readonly metadata: Metadata;
}

export interface VectorItem extends ItemRecord {
  /** L2-normalized, `dim` floats. */
  readonly vector: Float32Array;
}

export type FilterScalar = string | number | boolean;
/** A scalar means equality; `prefix` applies to strings; `in` is any-of. */
export type FieldCondition =
  | FilterScalar
  | { readonly eq: FilterScalar }
  | { readonly prefix: string }
  | { readonly in: readonly FilterScalar[] };
/**
 * Every condition must hold. Keys name top-level metadata fields, or `uri` for the source URI. Values match
 * with their JSON type: the string "1", the number 1 and `true` are three different values. Arrays, objects
 * and null in metadata are stored but match no condition.
 */
export type MetadataFilter = Readonly<Record<string, FieldCondition>>;

/**
 * Limits every store enforces on a filter, whatever its backend: each condition becomes a clause of one
 * query (SQLite refuses expression trees deeper than 1,000 and more than 32,766 bound values; Milvus bounds
 * expression length). No real filter comes near them.
 */
export const FILTER_LIMITS = { maxConditions: 32, maxValues: 4096 } as const;

const isFilterScalar = (value: unknown): value is FilterScalar =>
  typeof value === 'string' ||
  typeof value === 'boolean' ||
  (typeof value === 'number' && Number.isFinite(value));

/** Why one condition is not a FieldCondition, or undefined when it is one. */
function conditionViolation(condition: unknown): string | undefined {
  if (isFilterScalar(condition)) return undefined;
  const operators =
    typeof condition === 'object' && condition !== null
      ? Object.entries(condition as Record<string, unknown>)
      : [];
  const [only] = operators;
  if (operators.length === 1 && only !== undefined && !Array.isArray(condition)) {
    const [operator, value] = only;
    if (operator === 'eq' && isFilterScalar(value)) return undefined;
    if (operator === 'prefix' && typeof value === 'string') return undefined;
    if (operator === 'in' && Array.isArray(value) && value.every(isFilterScalar)) return undefined;
  }
  return 'must be a string, finite number or boolean, or one of { eq }, { prefix: string }, { in: [...] }';
}

/**
 * Why `filter` is not a MetadataFilter within FILTER_LIMITS (`[field, message]`, the field relative to
 * the filter), or undefined. Every store checks it before compiling; the gateway, to answer 422 first.
 */
export function filterViolation(filter: unknown): [field: string, message: string] | undefined {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter))
    return ['', 'must be an object of field conditions'];
  const conditions = Object.entries(filter);
  if (conditions.length > FILTER_LIMITS.maxConditions)
    return ['', `has ${conditions.length} conditions; at most ${FILTER_LIMITS.maxConditions} are allowed`];
  let values = 0;
  for (const [field, condition] of conditions) {
    if (field.length === 0) return ['', 'keys must be non-empty field names'];
    const problem = conditionViolation(condition);
    if (problem !== undefined) return [field, problem];
    const list = (condition as { in?: unknown }).in;
    values += Array.isArray(list) ? list.length : 1;
  }
  if (values > FILTER_LIMITS.maxValues)
    return ['', `compares ${values} values; at most ${FILTER_LIMITS.maxValues} are allowed`];
  return undefined;
}

export interface SearchRequest {
  readonly vector: Float32Array;
  readonly k: number;
  readonly offset?: number;
  readonly filter?: MetadataFilter;
  /** Drop hits whose cosine similarity is below this. */
  readonly minScore?: number;
}

export interface SearchHit {
  readonly score: number;
  readonly item: ItemRecord;
}

export interface ScanPage {
  readonly items: ItemRecord[];
  /** Pass as `after` for the next page; absent on the last page. */
  readonly next?: string;
}

export interface VectorStore {
  readonly dim: number;
  readonly modelId: string;
  /** Insert or replace by id. Durable once the promise resolves (survives kill -9). */
  upsert(items: readonly VectorItem[]): Promise<void>;
  /** Returns how many of the ids existed. */
  delete(ids: readonly string[]): Promise<number>;
  /** One slot per id, undefined where unknown. */
  get(ids: readonly string[]): Promise<(ItemRecord | undefined)[]>;
  /** The stored vector of one item (for "more like this"), undefined when unknown. */
  getVector(id: string): Promise<Float32Array | undefined>;
  count(filter?: MetadataFilter): Promise<number>;
  /** Sorted by score descending; ties broken by id for stable pagination. */
  search(request: SearchRequest): Promise<SearchHit[]>;
  /** Items in id order, for sweeps and listings. */
  scan(options: {
    readonly filter?: MetadataFilter;
    readonly after?: string;
    readonly limit: number;
  }): Promise<ScanPage>;
  health(): Promise<{ readonly ok: boolean; readonly detail?: string }>;
  close(): Promise<void>;
}
