// CONTRACT STUB — implemented by the preprocessing work (issue 2). Keep the exported names and shapes.
import type { ImageInput } from '../embedder/embedder';

export interface PreprocessOptions {
  /** Output is size × size (224 for ViT-B/32). */
  readonly size: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  /** Refuse images with more pixels than this (decompression bombs). */
  readonly maxPixels: number;
}

export interface PreprocessedImage {
  /** float32 CHW, 3 × size × size, normalized: what the vision model receives. */
  readonly pixels: Float32Array;
  /** Decoded size after EXIF orientation. */
  readonly width: number;
  readonly height: number;
}

export class ImagePreprocessor {
  constructor(readonly options: PreprocessOptions) {}

  /** Throws InvalidImageError (or UnsupportedImageError) for anything it cannot decode; never hangs. */
  preprocess(_input: ImageInput): Promise<PreprocessedImage> {
    return Promise.reject(new Error('not implemented'));
  }
}
