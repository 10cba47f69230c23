/**
 * The Triton adapter against a real Triton: tritonserver 2.51 (bundled by nvidia-pytriton) serving
 * tiny-clip's towers through triton-model-repo/cpu-server/ (ONNX Runtime in Python on the CPU) with the
 * configs of triton-model-repo/. One server for the whole file, started by it (several seconds) and stopped
 * and restarted by the conformance suite's recovery test.
 *
 * Here: readiness, the configs as Triton serves them, Triton's own answers to bad requests (the fixture
 * server must answer the same: kserve-error-cases.ts), the adapter's start-up contract check against what
 * Triton really reports (backend "python", not "onnxruntime"), and the InferenceBackend conformance suite.
 *
 * The server needs .venv-triton/ (scripts/triton-cpu-server.sh, run here first: instant when up to date).
 * Where it cannot be built, every test here is reported as skipped, naming the reason.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BackendUnavailableError, ModelMismatchError } from '@clip-search/contracts';
import type { ModelManifest, ResolvedModel } from '@clip-search/contracts';
import {
  embedderConformance,
  maxAbsDiff,
  REPO_ROOT,
  TINY_CLIP_DIR,
  tinyClip,
} from '@clip-search/clip/testing';
import { OnnxInferenceBackend } from '@clip-search/embedder-onnx';
import { preparePytritonVenv, type PytritonServer, startPytritonServer } from '@clip-search/kserve-fixture';
import type { ModelInferRequest } from '@clip-search/protos';
import { KServeClient } from '../src/kserve-client';
import { type TritonConfig, tritonConfig } from '../src/triton-config';
import { tritonCallError } from '../src/triton-errors';
import { TritonInferenceBackend } from '../src/triton-inference-backend';
import { kserveErrorCases, pixelRequest } from './kserve-error-cases';

const unavailable = preparePytritonVenv();
if (unavailable !== undefined) console.warn(`SKIPPED: the real Triton tests: ${unavailable}`);
const describeIfAvailable = unavailable === undefined ? describe : describe.skip;

// Starting tritonserver and loading both models takes seconds; the recovery test does it again.
jest.setTimeout(120_000);

/** The few fields of triton-model-repo/<model>/config.pbtxt the server must serve as they are written. */
function repoConfig(model: string) {
  const file = path.join(REPO_ROOT, 'triton-model-repo', model, 'config.pbtxt');
  const text = readFileSync(file, 'utf8').replace(/#.*$/gm, '');
  const field = (name: string) => {
    const match = new RegExp(`^\\s*${name}:\\s*(\\d+)`, 'm').exec(text);
    if (!match?.[1]) throw new Error(`${file}: no ${name}`);
    return Number(match[1]);
  };
  const preferred = /preferred_batch_size:\s*\[([^\]]*)\]/.exec(text)?.[1] ?? '';
  return {
    maxBatchSize: field('max_batch_size'),
    maxQueueDelayMicroseconds: field('max_queue_delay_microseconds'),
    preferredBatchSizes: preferred
      .split(',')
      .filter((s) => s.trim() !== '')
      .map(Number),
  };
}
const VISION = repoConfig('clip_vision');
const TEXT = repoConfig('clip_text');

let server: PytritonServer | undefined;
const url = () => {
  if (!server) throw new Error('the CPU Triton server did not start');
  return server.url;
};

beforeAll(async () => {
  if (unavailable !== undefined) return;
  const started = await startPytritonServer({ modelDir: TINY_CLIP_DIR });
  if ('skipped' in started) throw new Error(started.skipped);
  server = started;
}, 200_000);

afterAll(async () => {
  await server?.close();
});

describeIfAvailable(`real Triton (${unavailable ?? 'PyTriton CPU server'})`, () => {
  let model: ResolvedModel;
  let manifest: ModelManifest;
  let client: KServeClient;
  const opened: TritonInferenceBackend[] = [];

  const connect = async (settings: Partial<TritonConfig> = {}, m: ModelManifest = manifest) => {
    const backend = await TritonInferenceBackend.connect(
      tritonConfig({ url: url(), connectTimeoutMs: 10_000, ...settings }),
      m,
    );
    opened.push(backend);
    return backend;
  };
  const refusal = (m: ModelManifest, settings: Partial<TritonConfig> = {}) =>
    TritonInferenceBackend.connect(tritonConfig({ url: url(), connectTimeoutMs: 300, ...settings }), m).then(
      (backend) => {
        opened.push(backend);
        throw new Error('expected a refusal');
      },
      (error: unknown) => error as Error,
    );
  const failure = (request: ModelInferRequest) =>
    client.call('ModelInfer', request, 10_000).then(
      () => ({ code: -1, details: 'succeeded' }),
      (e: unknown) => {
        const { code, details } = e as { code: number; details: string };
        return { code, details };
      },
    );

  beforeAll(async () => {
    model = await tinyClip();
    manifest = model.manifest;
    client = new KServeClient({
      target: url(),
      keepaliveTimeMs: 60_000,
      keepaliveTimeoutMs: 20_000,
      reconnectBackoffMaxMs: 500,
    });
  });

  afterAll(async () => {
    for (const backend of opened) await backend.close();
    // Undefined when beforeAll failed half-way.
    (client as KServeClient | undefined)?.close();
  });

  test('server and both models are ready; an unknown model or version is not', async () => {
    expect(await client.call('ServerLive', {}, 2_000)).toEqual({ live: true });
    expect(await client.call('ServerReady', {}, 2_000)).toEqual({ ready: true });
    expect(await client.call('ModelReady', { name: 'clip_vision' }, 2_000)).toEqual({ ready: true });
    expect(await client.call('ModelReady', { name: 'clip_text', version: '1' }, 2_000)).toEqual({
      ready: true,
    });
    expect(await client.call('ModelReady', { name: 'nope' }, 2_000)).toEqual({ ready: false });
    expect(await client.call('ModelReady', { name: 'clip_text', version: '7' }, 2_000)).toEqual({
      ready: false,
    });
    const metadata = await client.call('ServerMetadata', {}, 2_000);
    expect(metadata.name).toBe('triton');
    expect(metadata.version).toMatch(/^2\.\d+\.\d+$/);
  });

  test('serves the tensors, max_batch_size and dynamic batching of triton-model-repo’s configs', async () => {
    expect(await client.call('ModelMetadata', { name: 'clip_vision' }, 2_000)).toEqual({
      name: 'clip_vision',
      versions: ['1'],
      platform: 'python',
      inputs: [{ name: 'pixel_values', datatype: 'FP32', shape: [-1, 3, 224, 224] }],
      outputs: [{ name: 'image_embeds', datatype: 'FP32', shape: [-1, 512] }],
    });
    expect(await client.call('ModelMetadata', { name: 'clip_text' }, 2_000)).toEqual({
      name: 'clip_text',
      versions: ['1'],
      platform: 'python',
      inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [-1, -1] }],
      outputs: [{ name: 'text_embeds', datatype: 'FP32', shape: [-1, 512] }],
    });
    for (const [name, expected] of [
      ['clip_vision', VISION],
      ['clip_text', TEXT],
    ] as const) {
      const { config } = await client.call('ModelConfig', { name }, 2_000);
      expect({
        name,
        backend: config?.backend,
        maxBatchSize: config?.max_batch_size,
        maxQueueDelayMicroseconds: Number(config?.dynamic_batching?.max_queue_delay_microseconds),
        preferredBatchSizes: config?.dynamic_batching?.preferred_batch_size?.map(Number),
      }).toEqual({ name, backend: 'python', ...expected });
    }
  });

  test.each(kserveErrorCases(TEXT.maxBatchSize))(
    '%s: Triton’s status and message (the fixture server’s too)',
    async (_what, request, code, details) => {
      expect(await failure(request)).toEqual({ code, details });
    },
  );

  test('Triton’s refusals become the adapter’s errors: INVALID_ARGUMENT a mismatch, NOT_FOUND unavailable', async () => {
    const refused = (request: ModelInferRequest) =>
      client.call('ModelInfer', request, 10_000).then(
        () => new Error('succeeded'),
        (error: unknown) => tritonCallError(error, 'ModelInfer', url()),
      );
    const shape = await refused(pixelRequest(1, 'FP32', [1, 3, 32, 32]));
    expect(shape).toBeInstanceOf(ModelMismatchError);
    expect(shape.message).toMatch(/INVALID_ARGUMENT: .*unexpected shape for input 'pixel_values'/);
    const datatype = await refused(pixelRequest(1, 'FP64'));
    expect(datatype).toBeInstanceOf(ModelMismatchError);
    expect(datatype.message).toMatch(/data-type is 'FP64', but model 'clip_vision' expects 'FP32'/);
    const unknown = await refused({ ...pixelRequest(1), model_name: 'nope' });
    expect(unknown).toBeInstanceOf(BackendUnavailableError);
    expect(unknown.message).toMatch(/NOT_FOUND: Request for unknown model: 'nope' is not found/);
  });

  describe('the adapter’s start-up contract check', () => {
    test('accepts the python backend’s models and takes max_batch_size from them', async () => {
      const backend = await connect({ maxInFlight: 2 });
      expect(backend.vision).toMatchObject({ model: 'clip_vision', maxBatchSize: VISION.maxBatchSize });
      expect(backend.text).toMatchObject({ model: 'clip_text', maxBatchSize: TEXT.maxBatchSize });
      expect([backend.vision.dimDeclared, backend.text.dimDeclared]).toEqual([true, true]);
      expect(backend.text.fixedLength).toBeUndefined();
      expect(backend.maxBatchSize).toBe(2 * Math.min(VISION.maxBatchSize, TEXT.maxBatchSize));
      expect(await backend.isReady()).toBe(true);
    });

    test.each([
      [
        'another embedding width',
        (m: ModelManifest): ModelManifest => ({ ...m, dim: 768 }),
        /output 'image_embeds' shape is \[-1,512\].*expects \[-1,768\]/,
      ],
      [
        'another image size',
        (m: ModelManifest): ModelManifest => ({ ...m, image: { ...m.image, size: 336 } }),
        /input 'pixel_values' shape is \[-1,3,224,224\].*expects \[-1,3,336,336\]/,
      ],
      [
        'another output name',
        (m: ModelManifest): ModelManifest => ({ ...m, image: { ...m.image, output: 'embeddings' } }),
        /no output 'embeddings'.*its outputs: 'image_embeds'/,
      ],
      [
        'another text input name',
        (m: ModelManifest): ModelManifest => ({ ...m, text: { ...m.text, input: 'tokens' } }),
        /takes input 'input_ids', which the manifest .* does not declare/,
      ],
    ])('refuses a manifest with %s, naming the field', async (_what, change, message) => {
      const error = await refusal(change(manifest));
      expect(error).toBeInstanceOf(ModelMismatchError);
      expect(error.message).toMatch(message);
    });

    test('an unknown model is not ready: BackendUnavailableError after connectTimeoutMs, naming it', async () => {
      const error = await refusal(manifest, { visionModel: 'no_such_model' });
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(error.message).toMatch(/not ready after 300 ms.*'no_such_model'/);
    });
  });

  test('a full batch of 32 images (19 MB) goes through Triton’s gRPC front end in one request', async () => {
    const backend = await connect({ maxInFlight: 1 });
    const reference = await OnnxInferenceBackend.load(model, { threads: 1, maxBatchSize: 32 });
    try {
      const one = 3 * 224 * 224;
      const data = new Float32Array(32 * one);
      for (let i = 0; i < one; i++) data[i] = Math.cos(i / 7);
      for (let k = 1; k < 32; k++) data.copyWithin(k * one, 0, one);
      for (let k = 0; k < 32; k++) data[k * one + k] = 2; // rows differ
      const pixels = { data, count: 32, size: 224 };
      expect(
        maxAbsDiff(await backend.runVision(pixels), await reference.runVision(pixels)),
      ).toBeLessThanOrEqual(1e-5);
    } finally {
      await reference.close();
    }
  });
});

embedderConformance(
  {
    label: `triton (real tritonserver, PyTriton CPU server${unavailable === undefined ? '' : `: skipped, ${unavailable}`})`,
    model: tinyClip,
    reference: (model, maxBatchSize) => OnnxInferenceBackend.load(model, { threads: 1, maxBatchSize }),
    serverMaxBatchSize: Math.min(VISION.maxBatchSize, TEXT.maxBatchSize),
    connect: async () =>
      TritonInferenceBackend.connect(
        tritonConfig({ url: url(), connectTimeoutMs: 30_000 }),
        (await tinyClip()).manifest,
      ),
    server: {
      stop: () => server!.stop(),
      restart: () => server!.restart(),
    },
  },
  { skip: unavailable !== undefined },
);
