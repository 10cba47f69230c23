import type { Metrics } from '@clip-search/platform';
import type { ResolvedModel } from '@clip-search/contracts';
import { resolveModel, type ResolveModelOptions } from '@clip-search/clip';
import { assembleClipEmbedder, loadModelTokenizer } from '@clip-search/clip';
import type { ClipEmbedder } from '@clip-search/clip';
import type { EmbedderConfig } from '@clip-search/contracts';
import { OnnxInferenceBackend } from './onnx-inference-backend';

export interface CreateOnnxEmbedderOptions extends ResolveModelOptions {
  readonly metrics?: Metrics;
  /** Images decoded at once (default: one per core, at least 2). */
  readonly preprocessConcurrency?: number;
  /**
   * The largest batch the ONNX backend accepts in one call, for callers that use `embedder.backend`
   * directly; the micro-batcher still uses `config.maxBatchSize` (default: max(64, that)).
   */
  readonly backendMaxBatchSize?: number;
}

/** What `createOnnxEmbedder` returns: the embedder, and the model folder it was loaded from. */
export interface OnnxEmbedder {
  readonly embedder: ClipEmbedder;
  readonly model: ResolvedModel;
}

/**
 * The embedded-mode Embedder: resolves the model (a local folder, or the catalog model downloaded on
 * first use), loads the tokenizer and both ONNX Runtime sessions (checking the model's contract), and
 * returns a ClipEmbedder over them. Every failure is a ModelLoadError or ModelMismatchError, at load.
 */
export async function createOnnxEmbedder(
  config: EmbedderConfig & { readonly hubEndpoint?: string },
  options: CreateOnnxEmbedderOptions = {},
): Promise<OnnxEmbedder> {
  const hubEndpoint = options.hubEndpoint ?? config.hubEndpoint;
  const model = await resolveModel(config, {
    ...options,
    ...(hubEndpoint === undefined ? {} : { hubEndpoint }),
  });
  const { manifest } = model;

  const tokenizer = await loadModelTokenizer(model.bpePath, manifest);
  const backend = await OnnxInferenceBackend.load(model, {
    threads: config.threads,
    maxBatchSize: options.backendMaxBatchSize ?? Math.max(64, config.maxBatchSize),
  });
  const embedder = assembleClipEmbedder(backend, tokenizer, manifest, config, options);
  return { embedder, model };
}
