/**
 * Runs the InferenceBackend conformance suite against every adapter:
 *   (a) ONNX Runtime in-process,
 *   (b) Triton's adapter through the KServe v2 fixture server (our protos, ONNX Runtime behind gRPC),
 *   (c) a real Triton when TRITON_URL is set (its models from TRITON_VISION_MODEL / TRITON_TEXT_MODEL,
 *       the model folder from CLIP_MODEL_DIR or tiny-clip); listed as skipped otherwise.
 */
import './helpers/node-realm-typed-arrays';
import { OnnxInferenceBackend } from '../src/embedder/onnx-inference-backend';
import { tritonConfig } from '../src/embedder/triton/triton-config';
import { TritonInferenceBackend } from '../src/embedder/triton/triton-inference-backend';
import type { ResolvedModel } from '../src/model/model-manifest';
import { resolveModelDir } from '../src/model/model-resolver';
import { embedderConformance } from './embedder-conformance';
import { KServeFixtureServer } from './fixtures/kserve-server';
import { tinyClip } from './helpers/golden-fixtures';

embedderConformance({
  label: 'onnx (in-process ONNX Runtime)',
  model: tinyClip,
  connect: async () => OnnxInferenceBackend.load(await tinyClip(), { threads: 1, maxBatchSize: 64 }),
});

// max_batch_size 4 and 3 requests in flight: every golden batch is split and sent in waves.
const SERVER_MAX_BATCH = 4;
let fixture: KServeFixtureServer | undefined;
let fixtureModel: ResolvedModel | undefined;
embedderConformance({
  label: 'triton (KServe v2 fixture server)',
  model: tinyClip,
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
