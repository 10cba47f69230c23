import { InvalidInputError, type StoreIdentity } from '@clip-search/contracts';
import { createSilentLogger, type Logger } from '@clip-search/platform';
import { checkCollectionName, collectionNameFor } from './collection-layout';

/** The vector index of a new collection (an existing one keeps the index it has). */
export type MilvusIndexOptions =
  | {
      readonly type: 'HNSW';
      /** Links per node. Default 16. */
      readonly M?: number;
      /** Candidates kept while building. Default 128. */
      readonly efConstruction?: number;
      /** Candidates kept while searching (at least the result window). Default 128. */
      readonly ef?: number;
    }
  | {
      readonly type: 'IVF_FLAT' | 'IVF_SQ8' | 'IVF_PQ';
      /** Clusters. Default 1024. */
      readonly nlist?: number;
      /** Clusters searched. Default 32. */
      readonly nprobe?: number;
      /** IVF_PQ: sub-quantizers, a divisor of the dimension. Default: dim / 8 (or the largest divisor below). */
      readonly m?: number;
    };

export type MilvusMetric = 'IP' | 'COSINE';

export interface MilvusVectorStoreOptions {
  /** `host:port` (default port 19530), or `https://host:port` for TLS. */
  readonly address: string;
  /** `user:password`, or an API key (Zilliz Cloud). */
  readonly token?: string;
  /** Milvus database. Default: Milvus's `default`. */
  readonly database?: string;
  /** Vector dimension of the embedder; a collection of another dimension is refused. */
  readonly dim: number;
  /** Embedder model id; a collection recording another model is refused. */
  readonly modelId: string;
  /** The collection of a model is this prefix + the model id made a valid name. Default `clip_search_`. */
  readonly collectionPrefix?: string;
  /** The collection, named as is (instead of prefix + model id). */
  readonly collection?: string;
  /** Default HNSW (M 16, efConstruction 128, ef 128). */
  readonly index?: MilvusIndexOptions;
  /** Inner product (the vectors are unit length, so it is their cosine) or COSINE. Default IP. */
  readonly metric?: MilvusMetric;
  /** The deadline of each call to Milvus. Default 10 s. */
  readonly callTimeoutMs?: number;
  /** How long opening waits for Milvus to answer at all (one starting beside the app). Default 30 s. */
  readonly connectTimeoutMs?: number;
  /** How long opening waits for the collection to load. Default 120 s. */
  readonly loadTimeoutMs?: number;
  /**
   * For this long after a write of this store, its reads wait for every write before them (Milvus's
   * Strong consistency, up to a time tick, ~200 ms, slower); later they read with Bounded consistency,
   * which sees every write older than Milvus's `common.gracefulTime` (5 s by default): keep this above
   * that. Default 10 s; Infinity makes every read Strong.
   */
  readonly readYourWritesMs?: number;
  /**
   * Upserts go in requests of at most this many bytes (gRPC refuses messages over 64 MB). Default 4 MiB:
   * one request is then encoded and written well within a call's deadline, even on a busy machine.
   */
  readonly maxRequestBytes?: number;
  readonly logger?: Logger;
}

/** The options with their defaults filled in and checked. */
export interface MilvusStoreSettings {
  readonly address: string;
  readonly token: string | undefined;
  readonly database: string | undefined;
  readonly identity: StoreIdentity;
  readonly collection: string;
  readonly index: IndexSettings;
  readonly metric: MilvusMetric;
  readonly callTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly loadTimeoutMs: number;
  readonly readYourWritesMs: number;
  readonly maxRequestBytes: number;
  readonly logger: Logger;
}

export type IndexSettings =
  | { readonly type: 'HNSW'; readonly M: number; readonly efConstruction: number; readonly ef: number }
  | {
      readonly type: 'IVF_FLAT' | 'IVF_SQ8' | 'IVF_PQ';
      readonly nlist: number;
      readonly nprobe: number;
      readonly m: number;
    };

/** gRPC's default message limit: Milvus refuses larger requests. */
const GRPC_MESSAGE_LIMIT = 64 * 1024 * 1024;

/** Fills in the defaults; refuses, with InvalidInputError, an option out of range. */
export function milvusStoreSettings(options: MilvusVectorStoreOptions): MilvusStoreSettings {
  if (typeof options.address !== 'string' || options.address.trim() === '')
    throw new InvalidInputError('the Milvus address must be a non-empty host:port');
  if (!Number.isInteger(options.dim) || options.dim < 1 || options.dim > 32_768)
    throw new InvalidInputError(
      `dim must be an integer from 1 to 32768 (Milvus's limit), got ${options.dim}`,
    );
  if (typeof options.modelId !== 'string' || options.modelId.length === 0)
    throw new InvalidInputError('modelId must be a non-empty string');
  const collection =
    options.collection === undefined
      ? collectionNameFor(options.collectionPrefix ?? 'clip_search_', options.modelId)
      : checkCollectionName(options.collection);
  const readYourWritesMs = options.readYourWritesMs ?? 10_000;
  if (!(readYourWritesMs >= 0)) throw new InvalidInputError('readYourWritesMs must be 0 or more');
  return {
    address: options.address.trim(),
    token: options.token === '' ? undefined : options.token,
    database: options.database === '' ? undefined : options.database,
    identity: { dim: options.dim, modelId: options.modelId },
    collection,
    index: indexSettings(options.index ?? { type: 'HNSW' }, options.dim),
    metric: options.metric ?? 'IP',
    callTimeoutMs: positiveInteger(options.callTimeoutMs, 10_000, 'callTimeoutMs'),
    connectTimeoutMs: positiveInteger(options.connectTimeoutMs, 30_000, 'connectTimeoutMs'),
    loadTimeoutMs: positiveInteger(options.loadTimeoutMs, 120_000, 'loadTimeoutMs'),
    readYourWritesMs,
    maxRequestBytes: Math.min(
      positiveInteger(options.maxRequestBytes, 4 * 1024 * 1024, 'maxRequestBytes'),
      GRPC_MESSAGE_LIMIT / 2,
    ),
    logger: options.logger ?? createSilentLogger(),
  };
}

function indexSettings(index: MilvusIndexOptions, dim: number): IndexSettings {
  switch (index.type) {
    case 'HNSW':
      return {
        type: 'HNSW',
        M: positiveInteger(index.M, 16, 'HNSW M'),
        efConstruction: positiveInteger(index.efConstruction, 128, 'HNSW efConstruction'),
        ef: positiveInteger(index.ef, 128, 'HNSW ef'),
      };
    case 'IVF_FLAT':
    case 'IVF_SQ8':
    case 'IVF_PQ': {
      const nlist = positiveInteger(index.nlist, 1_024, 'IVF nlist');
      const m = positiveInteger(
        index.m,
        largestDivisorUpTo(dim, Math.max(1, Math.floor(dim / 8))),
        'IVF_PQ m',
      );
      if (index.type === 'IVF_PQ' && dim % m !== 0)
        throw new InvalidInputError(`IVF_PQ m (${m}) must divide the dimension (${dim})`);
      return {
        type: index.type,
        nlist,
        nprobe: Math.min(positiveInteger(index.nprobe, 32, 'IVF nprobe'), nlist),
        m,
      };
    }
    default:
      throw new InvalidInputError(
        `Milvus index type must be HNSW, IVF_FLAT, IVF_SQ8 or IVF_PQ, got ${JSON.stringify((index as { type?: unknown }).type)}`,
      );
  }
}

function largestDivisorUpTo(n: number, limit: number): number {
  for (let d = limit; d > 1; d--) if (n % d === 0) return d;
  return 1;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidInputError(`${name} must be a positive integer`);
  return value;
}
