import type { Logger, Metrics } from '@clip-search/platform';
import {
  assembleClipEmbedder,
  loadModelTokenizer,
  resolveModelContract,
  type ClipEmbedder,
} from '@clip-search/clip';
import type { EmbedderConfig, TritonSettings } from '@clip-search/contracts';
import { tritonConfig } from './triton-config';
import { TritonInferenceBackend } from './triton-inference-backend';

export interface CreateTritonEmbedderOptions {
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

/**
 * The distributed-mode Embedder: the model's contract (manifest and tokenizer) from the model folder or
 * catalog, the towers on Triton. Connecting waits for the server and both models (`connectTimeoutMs`)
 * and checks that they match the manifest.
 */
export async function createTritonEmbedder(
  triton: TritonSettings,
  embedder: EmbedderConfig & { readonly hubEndpoint?: string },
  options: CreateTritonEmbedderOptions = {},
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
