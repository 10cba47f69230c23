import type { ModelLocation } from '../model/model-location';

/** Settings of an embedder, validated from the environment by `loadConfig` (see config/). */
export interface EmbedderConfig extends ModelLocation {
  /** ONNX Runtime intra-op threads; 0 = the cores this process may use (`ONNX_THREADS`). */
  readonly threads: number;
  /** Micro-batching: the most images or texts run together (`EMBED_MAX_BATCH`). */
  readonly maxBatchSize: number;
  /** Micro-batching: how long the first waiting item waits for company (`EMBED_MAX_WAIT_MS`). */
  readonly maxWaitMs: number;
  /** Decoding refuses images with more pixels than this (decompression bombs; `MAX_IMAGE_PIXELS`). */
  readonly maxImagePixels: number;
  /** Decoding refuses images with a longer side (`MAX_IMAGE_SIDE`; default DEFAULT_MAX_IMAGE_SIDE). */
  readonly maxImageSide?: number;
  /** Decoding refuses narrower strips (`MAX_IMAGE_ASPECT_RATIO`; default DEFAULT_MAX_IMAGE_ASPECT_RATIO). */
  readonly maxImageAspectRatio?: number;
  /** Time limit of one image's decode and resize (`IMAGE_DECODE_TIMEOUT_MS`; default 10 s). */
  readonly imageDecodeTimeoutMs?: number;
}

/** Where the CLIP towers run (`EMBEDDER`), with what that backend needs and nothing else. */
export type InferenceSettings = OnnxSettings | TritonSettings;

/** ONNX Runtime in this process (its threads are `EmbedderConfig.threads`). */
export interface OnnxSettings {
  readonly kind: 'onnx';
}

/** Triton over KServe v2 gRPC (`TRITON_*`). */
export interface TritonSettings {
  readonly kind: 'triton';
  /** `host:port`. */
  readonly url: string;
  readonly visionModel: string;
  readonly textModel: string;
  readonly modelVersion: string;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
}

/** `onnx` or `triton`: the backend's name in stats and metric labels. */
export type EmbedderKind = InferenceSettings['kind'];

/**
 * The defaults of the Triton settings a user can set (all but the URL, which has none): the config table
 * publishes them, and the adapter fills them into configs built in code.
 */
export const TRITON_SETTING_DEFAULTS = {
  visionModel: 'clip_vision',
  textModel: 'clip_text',
  modelVersion: '',
  inferDeadlineMs: 30_000,
  connectTimeoutMs: 30_000,
} as const satisfies Record<string, string | number>;
