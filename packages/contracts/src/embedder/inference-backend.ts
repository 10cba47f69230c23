/**
 * The lower port under every Embedder: run the two CLIP towers on tensors that are already preprocessed
 * and tokenized. Preprocessing, tokenization, micro-batching and normalization live above it, once, so
 * that ONNX Runtime in-process and Triton over gRPC give the same embeddings through the same code.
 */

/** Preprocessed images: float32 NCHW, `count` × 3 × `size` × `size`, row-major. */
export interface PixelBatch {
  readonly data: Float32Array;
  readonly count: number;
  readonly size: number;
}

/** Token ids: int64 `count` × `length`, zero-padded after EOT; `length` ≤ the model's context length. */
export interface TokenBatch {
  readonly ids: BigInt64Array;
  readonly count: number;
  readonly length: number;
}

export interface InferenceBackend {
  /** `onnx` or `triton`: for logs and metrics labels. */
  readonly kind: string;
  /** The largest batch one call accepts; callers split above it. */
  readonly maxBatchSize: number;
  /** Raw (unnormalized) image embeddings, `count` × dim, row-major. */
  runVision(batch: PixelBatch): Promise<Float32Array>;
  /** Raw (unnormalized) text embeddings, `count` × dim, row-major. */
  runText(batch: TokenBatch): Promise<Float32Array>;
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}
