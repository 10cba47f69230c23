import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics/metrics';
import { resolveModelContract } from '../model/model-contract';
import { assembleClipEmbedder, loadModelTokenizer } from './assemble-clip-embedder';
import type { ClipEmbedder } from './clip-embedder';
import { createOnnxEmbedder, type CreateOnnxEmbedderOptions } from './create-onnx-embedder';
import type { EmbedderConfig, EmbedderKind, TritonSettings } from './embedder-config';
import { tritonConfig } from './triton/triton-config';
import { TritonInferenceBackend } from './triton/triton-inference-backend';

/**
 * The sections of the configuration an Embedder is built from. `AppConfig` (config/) has all three, so
 * callers pass it whole; the embedder takes only these so that it never depends on the config layer.
 */
export interface EmbedderSelection {
  readonly embedderKind: EmbedderKind;
  readonly embedder: EmbedderConfig & { readonly hubEndpoint?: string };
  readonly triton: TritonSettings;
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
  switch (config.embedderKind) {
    case 'onnx':
      return (await createOnnxEmbedder(config.embedder, options)).embedder;
    case 'triton':
      return createTritonEmbedder(config, options);
  }
}

async function createTritonEmbedder(
  config: EmbedderSelection,
  options: CreateEmbedderOptions,
): Promise<ClipEmbedder> {
  const { manifest, bpePath } = await resolveModelContract(config.embedder);
  const tokenizer = await loadModelTokenizer(bpePath, manifest);
  const url = config.triton.url;
  if (url === undefined) throw new Error('TRITON_URL is validated by loadConfig when EMBEDDER=triton');
  const backend = await TritonInferenceBackend.connect(
    tritonConfig({
      url,
      visionModel: config.triton.visionModel,
      textModel: config.triton.textModel,
      modelVersion: config.triton.modelVersion,
      inferDeadlineMs: config.triton.timeoutMs,
      connectTimeoutMs: config.triton.connectTimeoutMs,
    }),
    manifest,
    options.logger === undefined ? {} : { logger: options.logger },
  );
  return assembleClipEmbedder(backend, tokenizer, manifest, config.embedder, options);
}
