import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';
import { resolveModelContract } from '../model/model-contract';
import { assembleClipEmbedder, loadModelTokenizer } from './assemble-clip-embedder';
import type { ClipEmbedder } from './clip-embedder';
import { createOnnxEmbedder, type CreateOnnxEmbedderOptions } from './create-onnx-embedder';
import type { EmbedderConfig, InferenceSettings, TritonSettings } from './embedder-config';
import { tritonConfig } from './triton/triton-config';
import { TritonInferenceBackend } from './triton/triton-inference-backend';

/**
 * The sections of the configuration an Embedder is built from. `AppConfig` (config/) has both, so
 * callers pass it whole; the embedder takes only these so that it never depends on the config layer.
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
 * InferenceBackend, so services above never know which one runs.
 */
export async function createEmbedder(
  config: EmbedderSelection,
  options: CreateEmbedderOptions = {},
): Promise<ClipEmbedder> {
  const { inference } = config;
  switch (inference.kind) {
    case 'onnx':
      return (await createOnnxEmbedder(config.embedder, options)).embedder;
    case 'triton':
      return createTritonEmbedder(inference, config.embedder, options);
  }
}

async function createTritonEmbedder(
  triton: TritonSettings,
  embedder: EmbedderSelection['embedder'],
  options: CreateEmbedderOptions,
): Promise<ClipEmbedder> {
  const { manifest, bpePath } = await resolveModelContract(embedder);
  const tokenizer = await loadModelTokenizer(bpePath, manifest);
  const backend = await TritonInferenceBackend.connect(
    tritonConfig({
      url: triton.url,
      visionModel: triton.visionModel,
      textModel: triton.textModel,
      modelVersion: triton.modelVersion,
      inferDeadlineMs: triton.timeoutMs,
      connectTimeoutMs: triton.connectTimeoutMs,
    }),
    manifest,
    options.logger === undefined ? {} : { logger: options.logger },
  );
  return assembleClipEmbedder(backend, tokenizer, manifest, embedder, options);
}
