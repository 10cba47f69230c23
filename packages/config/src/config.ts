import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '@clip-search/contracts';
import {
  DEFAULT_IMAGE_DECODE_TIMEOUT_MS,
  DEFAULT_MAX_IMAGE_ASPECT_RATIO,
  DEFAULT_MAX_IMAGE_PIXELS,
  DEFAULT_MAX_IMAGE_SIDE,
  TRITON_SETTING_DEFAULTS,
  type EmbedderConfig,
  type InferenceSettings,
} from '@clip-search/contracts';
import { parseApiKeyEntries, type ApiKeyEntry } from './api-keys';
import {
  bool,
  envVar,
  int,
  list,
  matching,
  nonEmpty,
  oneOf,
  perSecond,
  trustProxy,
  url,
  type EnvVar,
} from '@clip-search/platform/env-var';

/**
 * The bundled demo corpus (CC0 photos), indexed when the user names no folder. src/ and dist/ are as deep:
 * the repository's root is three folders up from either.
 */
export const DEMO_CORPUS_DIR = path.resolve(__dirname, '../../../demo/photos');

/** Every variable the services read. Defaults run the embedded mode on one machine. */
export const ENV = {
  LOG_LEVEL: envVar(
    'LOG_LEVEL',
    'info',
    'winston level: error, warn, info, http, verbose, debug.',
    oneOf(['error', 'warn', 'info', 'http', 'verbose', 'debug'] as const),
  ),
  LOG_FORMAT: envVar(
    'LOG_FORMAT',
    'json',
    '`json` (one object per line, for Elasticsearch) or `pretty` (for a terminal).',
    oneOf(['json', 'pretty'] as const),
  ),

  EMBEDDER: envVar(
    'EMBEDDER',
    'onnx',
    '`onnx` (ONNX Runtime in-process, CPU) or `triton` (Triton over KServe v2 gRPC).',
    oneOf(['onnx', 'triton'] as const),
  ),
  CLIP_MODEL_DIR: envVar(
    'CLIP_MODEL_DIR',
    undefined,
    'A local model folder (vision + text ONNX, model.json). Overrides CLIP_MODEL.',
    nonEmpty(),
  ),
  CLIP_MODEL: envVar(
    'CLIP_MODEL',
    'clip-vit-base-patch32',
    'A model of the built-in catalog, downloaded on first use into MODEL_CACHE_DIR.',
    nonEmpty(),
  ),
  MODEL_CACHE_DIR: envVar(
    'MODEL_CACHE_DIR',
    '~/.cache/clip-search/models',
    'Where downloaded models are kept.',
    nonEmpty(),
  ),
  HF_ENDPOINT: envVar(
    'HF_ENDPOINT',
    'https://huggingface.co',
    'Base URL of the Hugging Face hub (or a mirror) for model downloads.',
    url(['http', 'https']),
  ),
  ONNX_THREADS: envVar(
    'ONNX_THREADS',
    '0',
    'ONNX Runtime intra-op threads per model; 0 = the cores this process may use (`os.availableParallelism()`).',
    int(0, 256),
  ),
  EMBED_MAX_BATCH: envVar(
    'EMBED_MAX_BATCH',
    '8',
    'Micro-batching: most images or texts run in one model call.',
    int(1, 1024),
  ),
  EMBED_MAX_WAIT_MS: envVar(
    'EMBED_MAX_WAIT_MS',
    '0',
    'Micro-batching: how long a request that finds the model idle waits for company (0 = none); requests that arrive during a batch run together when it ends.',
    int(0, 10_000),
  ),
  MAX_IMAGE_PIXELS: envVar(
    'MAX_IMAGE_PIXELS',
    String(DEFAULT_MAX_IMAGE_PIXELS),
    'Images with more pixels are refused (decompression bombs).',
    int(1),
  ),
  MAX_IMAGE_SIDE: envVar(
    'MAX_IMAGE_SIDE',
    String(DEFAULT_MAX_IMAGE_SIDE),
    "Images wider or taller than this are refused from their header (browsers' canvas limit; a side bounds the rows a decode walks).",
    int(1),
  ),
  MAX_IMAGE_ASPECT_RATIO: envVar(
    'MAX_IMAGE_ASPECT_RATIO',
    String(DEFAULT_MAX_IMAGE_ASPECT_RATIO),
    'Images whose long side is more than this many times the short side are refused (panoramas and long screenshots pass).',
    int(1),
  ),
  IMAGE_DECODE_TIMEOUT_MS: envVar(
    'IMAGE_DECODE_TIMEOUT_MS',
    String(DEFAULT_IMAGE_DECODE_TIMEOUT_MS),
    'Time limit of decoding and resizing one image; slower images are refused (libvips stages count in whole seconds).',
    int(1, 3_600_000),
  ),

  TRITON_URL: envVar(
    'TRITON_URL',
    undefined,
    'Triton gRPC address, host:port (with EMBEDDER=triton).',
    nonEmpty(),
  ),
  TRITON_VISION_MODEL: envVar(
    'TRITON_VISION_MODEL',
    TRITON_SETTING_DEFAULTS.visionModel,
    'Triton model name of the vision tower.',
    nonEmpty(),
  ),
  TRITON_TEXT_MODEL: envVar(
    'TRITON_TEXT_MODEL',
    TRITON_SETTING_DEFAULTS.textModel,
    'Triton model name of the text tower.',
    nonEmpty(),
  ),
  TRITON_MODEL_VERSION: envVar(
    'TRITON_MODEL_VERSION',
    TRITON_SETTING_DEFAULTS.modelVersion,
    "Triton model version; empty = the server's policy (latest).",
    matching(/^\d*$/, 'must be a version number or empty'),
  ),
  TRITON_TIMEOUT_MS: envVar(
    'TRITON_TIMEOUT_MS',
    String(TRITON_SETTING_DEFAULTS.inferDeadlineMs),
    'Deadline of one Triton call.',
    int(1),
  ),

  TRITON_CONNECT_TIMEOUT_MS: envVar(
    'TRITON_CONNECT_TIMEOUT_MS',
    String(TRITON_SETTING_DEFAULTS.connectTimeoutMs),
    'How long start-up waits for Triton and both models to be ready before it gives up.',
    int(1),
  ),

  VECTOR_STORE: envVar(
    'VECTOR_STORE',
    'embedded',
    '`embedded` (SQLite + HNSW under DATA_DIR) or `milvus` (a Milvus server at MILVUS_ADDRESS, shared by every gateway).',
    oneOf(['embedded', 'milvus'] as const),
  ),
  MILVUS_ADDRESS: envVar(
    'MILVUS_ADDRESS',
    undefined,
    'Milvus gRPC address, host:port (`https://host:port` for TLS), with VECTOR_STORE=milvus.',
    nonEmpty(),
  ),
  MILVUS_TOKEN: envVar(
    'MILVUS_TOKEN',
    undefined,
    'Milvus credentials: `user:password`, or an API key.',
    nonEmpty(),
  ),
  MILVUS_DATABASE: envVar(
    'MILVUS_DATABASE',
    undefined,
    "Milvus database; unset: Milvus's `default`.",
    nonEmpty(),
  ),
  MILVUS_COLLECTION_PREFIX: envVar(
    'MILVUS_COLLECTION_PREFIX',
    'clip_search_',
    "A model's vectors live in the collection named this prefix + the model id (other characters than letters, digits and `_` as `_`).",
    matching(
      /^[A-Za-z_][A-Za-z0-9_]*$/,
      'must be letters, digits and underscores, not starting with a digit',
    ),
  ),
  HOST: envVar('HOST', '127.0.0.1', 'Address the gateway listens on (0.0.0.0 in containers).', nonEmpty()),
  PORT: envVar('PORT', '8080', 'Port the gateway listens on.', int(0, 65535)),
  AUTH: envVar(
    'AUTH',
    'auto',
    'API keys: `auto` (required when HOST is not loopback or keys are set), `keys` (always), `none` (never).',
    oneOf(['auto', 'keys', 'none'] as const),
  ),
  API_KEYS: envVar(
    'API_KEYS',
    '',
    'Comma-separated `<name>:<scope>:<sha256-hex>` (scope `search` or `admin`); see `clip-search apikey create`.',
    list(),
  ),
  API_KEYS_FILE: envVar(
    'API_KEYS_FILE',
    undefined,
    'A file of API key entries, one per line (`#` comments), added to API_KEYS.',
    nonEmpty(),
  ),
  TRUST_PROXY: envVar(
    'TRUST_PROXY',
    'false',
    'Express `trust proxy`: `false`, `true`, a hop count, or comma-separated proxy addresses/CIDRs (`loopback`…); sets the client address rate limits see.',
    trustProxy(),
  ),
  RATE_LIMIT_SEARCH_PER_SECOND: envVar(
    'RATE_LIMIT_SEARCH_PER_SECOND',
    '20',
    'Search requests (text, image, similar) a client may make per second, sustained; 0 = no limit.',
    perSecond(),
  ),
  RATE_LIMIT_SEARCH_BURST: envVar(
    'RATE_LIMIT_SEARCH_BURST',
    '40',
    'Search requests a client may make at once before the per-second rate applies.',
    int(1, 1_000_000),
  ),
  RATE_LIMIT_INGEST_PER_SECOND: envVar(
    'RATE_LIMIT_INGEST_PER_SECOND',
    '1',
    'Ingest jobs (POST /v1/ingest) a client may start per second, sustained; 0 = no limit.',
    perSecond(),
  ),
  RATE_LIMIT_INGEST_BURST: envVar(
    'RATE_LIMIT_INGEST_BURST',
    '10',
    'Ingest jobs a client may start at once before the per-second rate applies.',
    int(1, 1_000_000),
  ),
  DATA_DIR: envVar(
    'DATA_DIR',
    './data',
    'Embedded mode: where the vector store, job state and thumbnails live; created with its parents when missing, and must be writable (checked at start).',
    nonEmpty(),
  ),
  STORE_CHECK_TIMEOUT_MS: envVar(
    'STORE_CHECK_TIMEOUT_MS',
    '30000',
    'Embedded mode: time limit of the integrity check (`PRAGMA quick_check`) of the vector store at start; a damaged store refuses to open, a check out of time is logged and skipped; 0 = no check.',
    int(0),
  ),
  CORPUS_DIR: envVar(
    'CORPUS_DIR',
    undefined,
    'The folder `pnpm start` indexes at start; unset: the bundled demo photos. Always allowed as an ingest root.',
    nonEmpty(),
  ),
  INGEST_ROOTS: envVar(
    'INGEST_ROOTS',
    '',
    'Comma-separated folders a file:// ingest source may read (besides CORPUS_DIR); others get 403.',
    list(),
  ),
  MAX_UPLOAD_BYTES: envVar(
    'MAX_UPLOAD_BYTES',
    String(20 * 1024 * 1024),
    'Largest uploaded image (multipart), in bytes.',
    int(1),
  ),
  MAX_BODY_BYTES: envVar(
    'MAX_BODY_BYTES',
    String(30 * 1024 * 1024),
    'Largest JSON request body (base64 images included), in bytes.',
    int(1),
  ),
  IMAGE_URL_ALLOW_PRIVATE: envVar(
    'IMAGE_URL_ALLOW_PRIVATE',
    'false',
    'Let `imageUrl` fetch private, loopback and link-local addresses.',
    bool(),
  ),
  IMAGE_URL_TIMEOUT_MS: envVar(
    'IMAGE_URL_TIMEOUT_MS',
    '10000',
    'Time limit for fetching an `imageUrl`.',
    int(1),
  ),
  IMAGE_URL_MAX_BYTES: envVar(
    'IMAGE_URL_MAX_BYTES',
    String(20 * 1024 * 1024),
    'Size limit for an `imageUrl` download.',
    int(1),
  ),
  IMAGE_URL_MAX_PER_REQUEST: envVar(
    'IMAGE_URL_MAX_PER_REQUEST',
    '4',
    'Most `imageUrl` terms one search may hold.',
    int(0, 16),
  ),
  IMAGE_URL_MAX_INFLIGHT_BYTES: envVar(
    'IMAGE_URL_MAX_INFLIGHT_BYTES',
    String(100 * 1024 * 1024),
    'Bytes all `imageUrl` downloads of the process may hold at once; further downloads wait for room (503 when none frees in time).',
    int(1),
  ),
  HTTP_HEADERS_TIMEOUT_MS: envVar(
    'HTTP_HEADERS_TIMEOUT_MS',
    '15000',
    "Time a client has to send a request's headers before its connection is closed (408).",
    int(1000, 3_600_000),
  ),
  HTTP_REQUEST_TIMEOUT_MS: envVar(
    'HTTP_REQUEST_TIMEOUT_MS',
    '120000',
    'Time a client has to send a whole request, body included (408); a slow upload is cut here.',
    int(1000, 3_600_000),
  ),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: envVar(
    'HTTP_KEEP_ALIVE_TIMEOUT_MS',
    '5000',
    'How long an idle keep-alive connection stays open between requests.',
    int(1, 3_600_000),
  ),
} as const satisfies Record<string, EnvVar<unknown>>;

type Env = typeof ENV;
export type EnvValues = {
  [K in keyof Env]: Env[K] extends EnvVar<infer T>
    ? Env[K]['default'] extends string
      ? T
      : T | undefined
    : never;
};

/**
 * Reads and validates every variable at once. Fails fast with a ConfigError that lists every bad
 * variable (not just the first), so a user fixes their environment in one go.
 */
export function readEnv(env: NodeJS.ProcessEnv = process.env): EnvValues {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(ENV) as [string, EnvVar<unknown>][]) {
    const raw = env[spec.name] === undefined || env[spec.name] === '' ? spec.default : env[spec.name];
    if (raw === undefined) {
      values[key] = undefined;
      continue;
    }
    const parsed = spec.parse(raw);
    if (parsed.ok) values[key] = parsed.value;
    else problems.push(`${spec.name}=${JSON.stringify(raw)}: ${parsed.message}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as EnvValues;
}

/** A token bucket per client: `perSecond` tokens flow in, at most `burst` are kept; perSecond 0 = no limit. */
export interface RateLimitPolicy {
  readonly perSecond: number;
  readonly burst: number;
}

/** VECTOR_STORE and, for Milvus, its MILVUS_* settings. */
export type VectorStoreSettings =
  | { readonly kind: 'embedded' }
  | {
      readonly kind: 'milvus';
      readonly address: string;
      readonly token: string | undefined;
      readonly database: string | undefined;
      readonly collectionPrefix: string;
    };

export interface AppConfig {
  readonly log: { readonly level: EnvValues['LOG_LEVEL']; readonly format: EnvValues['LOG_FORMAT'] };
  /** EMBEDDER and, for Triton, its TRITON_* settings. */
  readonly inference: InferenceSettings;
  readonly vectorStore: VectorStoreSettings;
  readonly embedder: EmbedderConfig & { readonly hubEndpoint: string };
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly maxUploadBytes: number;
    readonly maxBodyBytes: number;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
    /** Express `trust proxy`: which `X-Forwarded-For` hops to believe for the client address. */
    readonly trustProxy: boolean | number | readonly string[];
  };
  readonly auth: {
    /** `keys`: every route but health, docs and metrics needs a key; `none`: anyone may call anything. */
    readonly mode: 'keys' | 'none';
    readonly keys: readonly ApiKeyEntry[];
  };
  readonly rateLimits: { readonly search: RateLimitPolicy; readonly ingest: RateLimitPolicy };
  readonly dataDir: string;
  readonly storeCheckTimeoutMs: number;
  readonly ingest: { readonly corpusDir: string; readonly roots: readonly string[] };
  readonly imageUrl: {
    readonly allowPrivate: boolean;
    readonly timeoutMs: number;
    readonly maxBytes: number;
    readonly maxPerRequest: number;
    readonly maxInflightBytes: number;
  };
}

/** Absolute path; a leading `~` is the home folder (as a shell would expand it). */
function resolvePath(p: string): string {
  return path.resolve(p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p);
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (any spelling, IPv4-mapped too) and `localhost`: addresses no other machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const bare = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  const family = net.isIP(bare);
  return family !== 0 && LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** EMBEDDER and what its backend needs, or why it cannot be had (Triton without TRITON_URL). */
function inferenceSettings(v: EnvValues): InferenceSettings | string {
  if (v.EMBEDDER === 'onnx') return { kind: 'onnx' };
  if (v.TRITON_URL === undefined) return 'TRITON_URL: required when EMBEDDER=triton';
  return {
    kind: 'triton',
    url: v.TRITON_URL,
    visionModel: v.TRITON_VISION_MODEL,
    textModel: v.TRITON_TEXT_MODEL,
    modelVersion: v.TRITON_MODEL_VERSION,
    timeoutMs: v.TRITON_TIMEOUT_MS,
    connectTimeoutMs: v.TRITON_CONNECT_TIMEOUT_MS,
  };
}

/** VECTOR_STORE and what its backend needs, or why it cannot be had (Milvus without MILVUS_ADDRESS). */
function vectorStoreSettings(v: EnvValues): VectorStoreSettings | string {
  if (v.VECTOR_STORE === 'embedded') return { kind: 'embedded' };
  if (v.MILVUS_ADDRESS === undefined) return 'MILVUS_ADDRESS: required when VECTOR_STORE=milvus';
  return {
    kind: 'milvus',
    address: v.MILVUS_ADDRESS,
    token: v.MILVUS_TOKEN,
    database: v.MILVUS_DATABASE,
    collectionPrefix: v.MILVUS_COLLECTION_PREFIX,
  };
}

/** The API key entries of API_KEYS and API_KEYS_FILE, with every problem of both. */
function readApiKeys(v: EnvValues, problems: string[]): ApiKeyEntry[] {
  const lines = v.API_KEYS.map((text, i) => ({ source: `API_KEYS entry ${i + 1}`, text }));
  if (v.API_KEYS_FILE !== undefined) {
    try {
      const file = resolvePath(v.API_KEYS_FILE);
      fs.readFileSync(file, 'utf8')
        .split(/\r?\n/)
        .forEach((text, i) => {
          if (text.trim() !== '' && !text.trim().startsWith('#'))
            lines.push({ source: `API_KEYS_FILE line ${i + 1}`, text });
        });
    } catch (error) {
      problems.push(`API_KEYS_FILE=${v.API_KEYS_FILE}: cannot read (${(error as Error).message})`);
    }
  }
  const parsed = parseApiKeyEntries(lines);
  problems.push(...parsed.problems);
  return parsed.keys;
}

/**
 * Whether requests need a key. Without keys the API (ingest included) is open to whoever can connect,
 * which is safe only on loopback: any other bind needs keys, or AUTH=none said out loud.
 */
function resolveAuth(v: EnvValues, keys: readonly ApiKeyEntry[], problems: string[]): 'keys' | 'none' {
  switch (v.AUTH) {
    case 'none':
      if (keys.length > 0)
        problems.push(
          'AUTH=none, but API_KEYS / API_KEYS_FILE hold keys: remove them, or set AUTH=auto or keys',
        );
      return 'none';
    case 'keys':
      if (keys.length === 0)
        problems.push(
          'AUTH=keys needs API_KEYS or API_KEYS_FILE (create a key with `clip-search apikey create`)',
        );
      return 'keys';
    case 'auto':
      if (keys.length === 0 && !isLoopbackHost(v.HOST))
        problems.push(
          `HOST=${v.HOST} is reachable from other machines and no API key is configured: set API_KEYS ` +
            '(or API_KEYS_FILE; create a key with `clip-search apikey create`), or AUTH=none to serve without authentication',
        );
      return keys.length > 0 ? 'keys' : 'none';
  }
}

/** The typed configuration of every service, validated once at start. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const v = readEnv(env);
  const problems: string[] = [];
  const inference = inferenceSettings(v);
  if (typeof inference === 'string') problems.push(inference);
  const vectorStore = vectorStoreSettings(v);
  if (typeof vectorStore === 'string') problems.push(vectorStore);
  const keys = readApiKeys(v, problems);
  const authMode = resolveAuth(v, keys, problems);
  if (problems.length > 0 || typeof inference === 'string' || typeof vectorStore === 'string')
    throw new ConfigError(problems);
  const corpusDir = v.CORPUS_DIR === undefined ? DEMO_CORPUS_DIR : resolvePath(v.CORPUS_DIR);
  return {
    log: { level: v.LOG_LEVEL, format: v.LOG_FORMAT },
    inference,
    vectorStore,
    embedder: {
      modelDir: v.CLIP_MODEL_DIR === undefined ? undefined : resolvePath(v.CLIP_MODEL_DIR),
      modelName: v.CLIP_MODEL,
      modelCacheDir: resolvePath(v.MODEL_CACHE_DIR),
      hubEndpoint: v.HF_ENDPOINT,
      threads: v.ONNX_THREADS === 0 ? os.availableParallelism() : v.ONNX_THREADS,
      maxBatchSize: v.EMBED_MAX_BATCH,
      maxWaitMs: v.EMBED_MAX_WAIT_MS,
      maxImagePixels: v.MAX_IMAGE_PIXELS,
      maxImageSide: v.MAX_IMAGE_SIDE,
      maxImageAspectRatio: v.MAX_IMAGE_ASPECT_RATIO,
      imageDecodeTimeoutMs: v.IMAGE_DECODE_TIMEOUT_MS,
    },
    server: {
      host: v.HOST,
      port: v.PORT,
      maxUploadBytes: v.MAX_UPLOAD_BYTES,
      maxBodyBytes: v.MAX_BODY_BYTES,
      headersTimeoutMs: v.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: v.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      trustProxy: v.TRUST_PROXY,
    },
    auth: { mode: authMode, keys },
    rateLimits: {
      search: { perSecond: v.RATE_LIMIT_SEARCH_PER_SECOND, burst: v.RATE_LIMIT_SEARCH_BURST },
      ingest: { perSecond: v.RATE_LIMIT_INGEST_PER_SECOND, burst: v.RATE_LIMIT_INGEST_BURST },
    },
    dataDir: resolvePath(v.DATA_DIR),
    storeCheckTimeoutMs: v.STORE_CHECK_TIMEOUT_MS,
    ingest: { corpusDir, roots: [...new Set([corpusDir, ...v.INGEST_ROOTS.map(resolvePath)])] },
    imageUrl: {
      allowPrivate: v.IMAGE_URL_ALLOW_PRIVATE,
      timeoutMs: v.IMAGE_URL_TIMEOUT_MS,
      maxBytes: v.IMAGE_URL_MAX_BYTES,
      maxPerRequest: v.IMAGE_URL_MAX_PER_REQUEST,
      maxInflightBytes: v.IMAGE_URL_MAX_INFLIGHT_BYTES,
    },
  };
}
