/** Settings of an embedder, validated from the environment by `loadConfig` (see config/). */
export interface EmbedderConfig {
  /** A local model folder (`CLIP_MODEL_DIR`); when unset, `modelName` is fetched into `modelCacheDir`. */
  readonly modelDir: string | undefined;
  /** A model from the built-in catalog, downloaded on first use (`CLIP_MODEL`). */
  readonly modelName: string;
  readonly modelCacheDir: string;
  /** ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose (`ONNX_THREADS`). */
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
