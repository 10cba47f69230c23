/**
 * The InferenceBackend conformance suite on Triton's adapter, compared with ONNX Runtime in-process:
 *   (a) through the KServe v2 fixture server (our protos, ONNX Runtime behind gRPC),
 *   (b) against a real Triton when TRITON_URL is set (its models from TRITON_VISION_MODEL /
 *       TRITON_TEXT_MODEL, the model folder from CLIP_MODEL_DIR or tiny-clip); listed as skipped otherwise.
 * The real Triton these tests start themselves (the CPU stand-in, with recovery) is in pytriton-server.test.ts.
 */
import type { ResolvedModel } from '@clip-search/contracts';
import { resolveModelDir } from '@clip-search/clip';
import { embedderConformance, tinyClip } from '@clip-search/clip/testing';
import { OnnxInferenceBackend } from '@clip-search/embedder-onnx';
import { KServeFixtureServer } from '@clip-search/kserve-fixture';
import { tritonConfig } from '../src/triton-config';
import { TritonInferenceBackend } from '../src/triton-inference-backend';

const reference = (model: ResolvedModel, maxBatchSize: number) =>
  OnnxInferenceBackend.load(model, { threads: 1, maxBatchSize });

// max_batch_size 4 and 3 requests in flight: every golden batch is split and sent in waves.
const SERVER_MAX_BATCH = 4;
let fixture: KServeFixtureServer | undefined;
let fixtureModel: ResolvedModel | undefined;
embedderConformance({
  label: 'triton (KServe v2 fixture server)',
  model: tinyClip,
  reference,
  serverMaxBatchSize: SERVER_MAX_BATCH,
  async setup() {
    fixtureModel = await tinyClip();
    fixture = await KServeFixtureServer.start({
      models: [
        { name: 'clip_vision', onnx: fixtureModel.visionPath, maxBatchSize: SERVER_MAX_BATCH },
        { name: 'clip_text', onnx: fixtureModel.textPath, maxBatchSize: SERVER_MAX_BATCH },
      ],
    });
  },
  async teardown() {
    await fixture?.close();
  },
  connect: () =>
    TritonInferenceBackend.connect(
      tritonConfig({ url: fixture!.url, connectTimeoutMs: 5_000, maxInFlight: 3 }),
      fixtureModel!.manifest,
    ),
  observedBatchSizes: () => [...fixture!.stats.batches.values()].flat(),
  server: {
    stop: () => fixture!.stop(),
    restart: () => fixture!.restart(),
  },
});

const tritonUrl = process.env.TRITON_URL;
const realModel = () =>
  process.env.CLIP_MODEL_DIR ? resolveModelDir(process.env.CLIP_MODEL_DIR) : tinyClip();
embedderConformance(
  {
    label: `triton (real server at ${tritonUrl ?? 'TRITON_URL, unset: skipped'})`,
    model: realModel,
    reference,
    connect: async () =>
      TritonInferenceBackend.connect(
        tritonConfig({
          url: tritonUrl!,
          visionModel: process.env.TRITON_VISION_MODEL ?? 'clip_vision',
          textModel: process.env.TRITON_TEXT_MODEL ?? 'clip_text',
          modelVersion: process.env.TRITON_MODEL_VERSION ?? '',
          connectTimeoutMs: 30_000,
        }),
        (await realModel()).manifest,
      ),
  },
  { skip: tritonUrl === undefined || tritonUrl === '' },
);
