/**
 * The InferenceBackend conformance suite on ONNX Runtime in-process (also the reference every other
 * adapter is compared with: see @clip-search/embedder-triton's run of the same suite).
 */
import type { ResolvedModel } from '@clip-search/contracts';
import { embedderConformance, tinyClip } from '@clip-search/clip/testing';
import { OnnxInferenceBackend } from '../src/onnx-inference-backend';

const reference = (model: ResolvedModel, maxBatchSize: number) =>
  OnnxInferenceBackend.load(model, { threads: 1, maxBatchSize });

embedderConformance({
  label: 'onnx (in-process ONNX Runtime)',
  model: tinyClip,
  reference,
  connect: async () => OnnxInferenceBackend.load(await tinyClip(), { threads: 1, maxBatchSize: 64 }),
});
