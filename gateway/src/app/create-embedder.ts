import type { Logger, Metrics } from '@clip-search/platform';
import type { ClipEmbedder } from '@clip-search/clip';
import type { EmbedderConfig, InferenceSettings } from '@clip-search/contracts';
import type { CreateOnnxEmbedderOptions } from '@clip-search/embedder-onnx';

/**
 * The sections of the configuration an Embedder is built from. `AppConfig` has both, so callers pass it
 * whole; this takes only these.
 */
export interface EmbedderSelection {
  readonly inference: InferenceSettings;
  readonly embedder: EmbedderConfig & { readonly hubEndpoint?: string };
}

export interface CreateEmbedderOptions extends CreateOnnxEmbedderOptions {
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

/**
 * The Embedder the configuration asks for (`EMBEDDER`): ONNX Runtime in-process, or Triton over gRPC.
 * Both are a ClipEmbedder (same preprocessing, tokenizer, batching and normalization) over a different
 * InferenceBackend, so services above never know which one runs. Each adapter is loaded only when
 * chosen: a gateway on Triton never loads ONNX Runtime's native library, nor needs it installed.
 */
export async function createEmbedder(
  config: EmbedderSelection,
  options: CreateEmbedderOptions = {},
): Promise<ClipEmbedder> {
  const { inference } = config;
  switch (inference.kind) {
    case 'onnx': {
      const { createOnnxEmbedder } = await import('@clip-search/embedder-onnx');
      return (await createOnnxEmbedder(config.embedder, options)).embedder;
    }
    case 'triton': {
      const { createTritonEmbedder } = await import('@clip-search/embedder-triton');
      return createTritonEmbedder(inference, config.embedder, options);
    }
  }
}
