import type { ImageInput } from '../image/image-input';
import type { InvalidImageError } from '../errors/clip-search-error';

/** What an embedder can tell about the model behind it. */
export interface ModelInfo {
  /** Stable model id; vectors of two different ids are never mixed in one store. */
  readonly id: string;
  readonly dim: number;
  readonly imageSize: number;
  readonly contextLength: number;
}

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

/** Per call of {@link Embedder.embedImages}; both optional, so batch callers (ingest) pass nothing. */
export interface EmbedImagesOptions {
  /**
   * The caller gave up (an HTTP client went away): its images still waiting to be decoded leave the queue
   * at once, decodes under way stop at their next check (a libvips stage at the decode time limit), and
   * the call rejects with the signal's reason.
   */
  readonly signal?: AbortSignal;
  /**
   * Who the images are for (a client address, an API key id): decoding is shared fairly between
   * clients, so one client's many images cannot hold every decode slot. Callers without one share ''.
   */
  readonly client?: string;
}

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
  embedImages(images: readonly ImageInput[], options?: EmbedImagesOptions): Promise<ImageEmbedding[]>;
  embedTexts(texts: readonly string[]): Promise<TextEmbedding[]>;
  /** True when the model backend can serve now (used by /readyz). */
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}
