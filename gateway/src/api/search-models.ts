/** Any JSON object (item metadata). */
export interface JsonObject {
  [key: string]: unknown;
}

/** A text query. @minLength 1 @maxLength 10000 */
export type QueryText = string;

/** A list of weighted terms. @minItems 1 @maxItems 16 */
export type QueryTerms = QueryTermBody[];

export interface TextTerm {
  /**
   * Text, embedded by the model's text tower (longer than its context: cut, `queryTruncated`).
   * @minLength 1
   * @maxLength 10000
   */
  text: string;
  /** Any finite number; negative steers away from the term. Default 1. */
  weight?: number;
}

export interface ImageBase64Term {
  /** The image's bytes in base64 (a `data:image/…;base64,` prefix is accepted). */
  imageBase64: string;
  /** Default 1. */
  weight?: number;
}

export interface ImageUrlTerm {
  /**
   * An http(s) URL the server downloads (public addresses only unless IMAGE_URL_ALLOW_PRIVATE).
   * @maxLength 2048
   */
  imageUrl: string;
  /** Default 1. */
  weight?: number;
}

export interface ItemTerm {
  /**
   * The id of an indexed item: its stored vector is the term.
   * @minLength 1
   * @maxLength 256
   */
  itemId: string;
  /** Default 1. */
  weight?: number;
}

export interface VectorTerm {
  /**
   * A raw embedding with the model's dimension (normalized before use).
   * @minItems 1
   * @maxItems 4096
   */
  vector: number[];
  /** Default 1. */
  weight?: number;
}

/** One term of a multi-term query: exactly one of text, imageBase64, imageUrl, itemId or vector. */
export type QueryTermBody = TextTerm | ImageBase64Term | ImageUrlTerm | ItemTerm | VectorTerm;

export type FilterScalar = string | number | boolean;

export interface EqCondition {
  eq: FilterScalar;
}

export interface PrefixCondition {
  prefix: string;
}

export interface InCondition {
  /** @maxItems 1000 */
  in: FilterScalar[];
}

/** A scalar means equality; `prefix` applies to strings; `in` is any-of. */
export type FieldCondition = FilterScalar | EqCondition | PrefixCondition | InCondition;

/**
 * Every condition must hold. Keys name metadata fields (ingested files have `folder` and `filename`),
 * or `uri` for the source URI.
 */
export interface MetadataFilterBody {
  [field: string]: FieldCondition;
}

/** Optional result fields. */
export type IncludeField = 'metadata' | 'imageUrl' | 'thumbnailUrl';

export interface SearchBody {
  /**
   * A text, or weighted terms whose normalized embeddings are summed and normalized again.
   * @example "a photo of a cat"
   */
  query: QueryText | QueryTerms;
  /**
   * Results per page.
   * @isInt
   * @minimum 1
   * @maximum 1000
   * @default 10
   */
  k?: number;
  /**
   * Results to skip (page 2 is `offset = k`). With k ≤ 1000, the deepest result is the 10,000th.
   * @isInt
   * @minimum 0
   * @maximum 9000
   * @default 0
   */
  offset?: number;
  /**
   * Leave out results with a lower cosine similarity.
   * @minimum -1
   * @maximum 1
   */
  minScore?: number;
  filter?: MetadataFilterBody;
  /** Optional fields to return (default: all of them). */
  include?: IncludeField[];
}

export interface SearchResult {
  id: string;
  /** Where the image lives (`file:///…`). */
  uri: string;
  /** Cosine similarity to the query, in [-1, 1]. */
  score: number;
  width: number;
  height: number;
  metadata?: JsonObject;
  /** Path of the original image on this server. */
  imageUrl?: string;
  /** Path of a small JPEG preview on this server. */
  thumbnailUrl?: string;
}

export interface SearchResponse {
  /** Best first; ties by id, so pages are stable. */
  results: SearchResult[];
  /** Server time for the search, embedding included. */
  tookMs: number;
  /** True when a text was longer than the model's context and was cut. */
  queryTruncated: boolean;
}
