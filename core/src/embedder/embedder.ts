import type { InvalidImageError } from '../errors/clip-search-error';

/** What an embedder can tell about the model behind it. */
export interface ModelInfo {
  /** Stable model id; vectors of two different ids are never mixed in one store. */
  readonly id: string;
  readonly dim: number;
  readonly imageSize: number;
  readonly contextLength: number;
}

/** An image to embed: encoded bytes (any format sharp reads) or a file path. */
export type ImageInput = Uint8Array | { readonly path: string };

export type ImageEmbedding =
  | {
      readonly ok: true;
      /** L2-normalized. */
      readonly embedding: Float32Array;
      /** Size of the decoded image after EXIF orientation. */
      readonly width: number;
      readonly height: number;
    }
  | { readonly ok: false; readonly error: InvalidImageError };

export interface TextEmbedding {
  /** L2-normalized. */
  readonly embedding: Float32Array;
  /** True when the text was longer than the context and was cut (EOT kept last). */
  readonly truncated: boolean;
}

/**
 * The port every service embeds through. Adapters: ONNX Runtime in-process (embedded mode) and Triton
 * over KServe v2 gRPC (distributed mode). One bad image never fails a batch: its slot carries the error.
 */
export interface Embedder {
  readonly info: ModelInfo;
  embedImages(images: readonly ImageInput[]): Promise<ImageEmbedding[]>;
  embedTexts(texts: readonly string[]): Promise<TextEmbedding[]>;
  /** True when the model backend can serve now (used by /readyz). */
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}
