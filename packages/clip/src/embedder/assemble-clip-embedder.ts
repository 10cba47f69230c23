import { ClipTokenizer } from '../tokenizer/clip-tokenizer';
import { ImagePreprocessor } from '../image/image-preprocessor';
import { ClipSearchError, ModelLoadError } from '@clip-search/contracts';
import type { Metrics } from '@clip-search/platform';
import type { ModelManifest } from '@clip-search/contracts';
import { ClipEmbedder } from './clip-embedder';
import type { EmbedderConfig } from '@clip-search/contracts';
import type { InferenceBackend } from '@clip-search/contracts';

/** The model's tokenizer; any failure is a ModelLoadError naming the merges file (at load, never at query time). */
export async function loadModelTokenizer(bpePath: string, manifest: ModelManifest): Promise<ClipTokenizer> {
  try {
    return await ClipTokenizer.fromBpeFile(bpePath, manifest.text.contextLength);
  } catch (error) {
    if (error instanceof ClipSearchError) throw error;
    throw new ModelLoadError(`Cannot load the tokenizer merges ${bpePath}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export interface AssembleOptions {
  readonly metrics?: Metrics;
  /** Images decoded at once (default: one per core, at least 2). */
  readonly preprocessConcurrency?: number;
}

/**
 * The ClipEmbedder over any backend: the model's preprocessing and the configured micro-batching. Both
 * factories (createOnnxEmbedder in @clip-search/embedder-onnx, createTritonEmbedder in
 * @clip-search/embedder-triton) end here, so the two differ only in the backend they pass.
 */
export function assembleClipEmbedder(
  backend: InferenceBackend,
  tokenizer: ClipTokenizer,
  manifest: ModelManifest,
  config: EmbedderConfig,
  options: AssembleOptions = {},
): ClipEmbedder {
  return new ClipEmbedder({
    backend,
    tokenizer,
    preprocessor: new ImagePreprocessor({
      size: manifest.image.size,
      mean: manifest.image.mean,
      std: manifest.image.std,
      maxPixels: config.maxImagePixels,
      maxSide: config.maxImageSide,
      maxAspectRatio: config.maxImageAspectRatio,
      decodeTimeoutMs: config.imageDecodeTimeoutMs,
    }),
    manifest,
    maxBatchSize: config.maxBatchSize,
    maxWaitMs: config.maxWaitMs,
    ...(options.preprocessConcurrency === undefined
      ? {}
      : { preprocessConcurrency: options.preprocessConcurrency }),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  });
}
