import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors/clip-search-error';
import type { EmbedderConfig } from '../embedder/embedder-config';
import { bool, envVar, int, list, nonEmpty, oneOf, url, type EnvVar } from './env-var';
import { z } from 'zod';

/** The bundled demo corpus (CC0 photos), indexed when the user names no folder. */
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
  ONNX_THREADS: envVar('ONNX_THREADS', '0', 'ONNX Runtime intra-op threads; 0 = one per core.', int(0, 256)),
  EMBED_MAX_BATCH: envVar(
    'EMBED_MAX_BATCH',
    '8',
    'Micro-batching: most images or texts run in one model call.',
    int(1, 1024),
  ),
  EMBED_MAX_WAIT_MS: envVar(
    'EMBED_MAX_WAIT_MS',
    '5',
    'Micro-batching: how long a request waits for company before its batch runs.',
    int(0, 10_000),
  ),
  MAX_IMAGE_PIXELS: envVar(
    'MAX_IMAGE_PIXELS',
    '100000000',
    'Images with more pixels are refused (decompression bombs).',
    int(1),
  ),

  TRITON_URL: envVar(
    'TRITON_URL',
    undefined,
    'Triton gRPC address, host:port (with EMBEDDER=triton).',
    nonEmpty(),
  ),
  TRITON_VISION_MODEL: envVar(
    'TRITON_VISION_MODEL',
    'clip_vision',
    'Triton model name of the vision tower.',
    nonEmpty(),
  ),
  TRITON_TEXT_MODEL: envVar(
    'TRITON_TEXT_MODEL',
    'clip_text',
    'Triton model name of the text tower.',
    nonEmpty(),
  ),
  TRITON_MODEL_VERSION: envVar(
    'TRITON_MODEL_VERSION',
    '',
    "Triton model version; empty = the server's policy (latest).",
    z.string().trim(),
  ),
  TRITON_TIMEOUT_MS: envVar('TRITON_TIMEOUT_MS', '30000', 'Deadline of one Triton call.', int(1)),

  TRITON_CONNECT_TIMEOUT_MS: envVar(
    'TRITON_CONNECT_TIMEOUT_MS',
    '30000',
    'How long start-up waits for Triton and both models to be ready before it gives up.',
    int(1),
  ),
  HOST: envVar('HOST', '127.0.0.1', 'Address the gateway listens on (0.0.0.0 in containers).', nonEmpty()),
  PORT: envVar('PORT', '8080', 'Port the gateway listens on.', int(0, 65535)),
  DATA_DIR: envVar(
    'DATA_DIR',
    './data',
    'Embedded mode: where the vector store, job state and thumbnails live.',
    nonEmpty(),
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
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) values[key] = parsed.data;
    else
      problems.push(
        `${spec.name}=${JSON.stringify(raw)}: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
      );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as EnvValues;
}

export interface AppConfig {
  readonly log: { readonly level: EnvValues['LOG_LEVEL']; readonly format: EnvValues['LOG_FORMAT'] };
  readonly embedderKind: EnvValues['EMBEDDER'];
  readonly embedder: EmbedderConfig & { readonly hubEndpoint: string };
  readonly triton: {
    readonly url: string | undefined;
    readonly visionModel: string;
    readonly textModel: string;
    readonly modelVersion: string;
    readonly timeoutMs: number;
    readonly connectTimeoutMs: number;
  };
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly maxUploadBytes: number;
    readonly maxBodyBytes: number;
  };
  readonly dataDir: string;
  readonly ingest: { readonly corpusDir: string; readonly roots: readonly string[] };
  readonly imageUrl: {
    readonly allowPrivate: boolean;
    readonly timeoutMs: number;
    readonly maxBytes: number;
  };
}

/** Absolute path; a leading `~` is the home folder (as a shell would expand it). */
function resolvePath(p: string): string {
  return path.resolve(p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p);
}

/** The typed configuration of every service, validated once at start. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const v = readEnv(env);
  const problems: string[] = [];
  if (v.EMBEDDER === 'triton' && v.TRITON_URL === undefined)
    problems.push('TRITON_URL: required when EMBEDDER=triton');
  if (problems.length > 0) throw new ConfigError(problems);
  const corpusDir = v.CORPUS_DIR === undefined ? DEMO_CORPUS_DIR : resolvePath(v.CORPUS_DIR);
  return {
    log: { level: v.LOG_LEVEL, format: v.LOG_FORMAT },
    embedderKind: v.EMBEDDER,
    embedder: {
      modelDir: v.CLIP_MODEL_DIR === undefined ? undefined : resolvePath(v.CLIP_MODEL_DIR),
      modelName: v.CLIP_MODEL,
      modelCacheDir: resolvePath(v.MODEL_CACHE_DIR),
      hubEndpoint: v.HF_ENDPOINT,
      threads: v.ONNX_THREADS,
      maxBatchSize: v.EMBED_MAX_BATCH,
      maxWaitMs: v.EMBED_MAX_WAIT_MS,
      maxImagePixels: v.MAX_IMAGE_PIXELS,
    },
    triton: {
      url: v.TRITON_URL,
      visionModel: v.TRITON_VISION_MODEL,
      textModel: v.TRITON_TEXT_MODEL,
      modelVersion: v.TRITON_MODEL_VERSION,
      timeoutMs: v.TRITON_TIMEOUT_MS,
      connectTimeoutMs: v.TRITON_CONNECT_TIMEOUT_MS,
    },
    server: {
      host: v.HOST,
      port: v.PORT,
      maxUploadBytes: v.MAX_UPLOAD_BYTES,
      maxBodyBytes: v.MAX_BODY_BYTES,
    },
    dataDir: resolvePath(v.DATA_DIR),
    ingest: { corpusDir, roots: [...new Set([corpusDir, ...v.INGEST_ROOTS.map(resolvePath)])] },
    imageUrl: {
      allowPrivate: v.IMAGE_URL_ALLOW_PRIVATE,
      timeoutMs: v.IMAGE_URL_TIMEOUT_MS,
      maxBytes: v.IMAGE_URL_MAX_BYTES,
    },
  };
}
