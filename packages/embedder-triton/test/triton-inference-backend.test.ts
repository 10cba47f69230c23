/**
 * The Triton adapter's own rules, against the KServe v2 fixture server (real gRPC, real ONNX Runtime):
 * the start-up contract check, retries only on UNAVAILABLE / DEADLINE_EXCEEDED, deadlines, the in-flight
 * bound, typed outputs, the attention mask, fixed sequence lengths and full-size messages. The behaviour
 * every backend shares (embeddings, batching, readiness, recovery) is in embedder-conformance.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import type { TokenBatch } from '@clip-search/contracts';
import { OnnxInferenceBackend } from '@clip-search/embedder-onnx';
import { type TritonConfig, tritonConfig, tritonTarget } from '../src/triton-config';
import { TritonInferenceBackend } from '../src/triton-inference-backend';
import { BackendUnavailableError, ConfigError, ModelMismatchError } from '@clip-search/contracts';
import type { ModelManifest, ResolvedModel } from '@clip-search/contracts';
import { type FixtureModel, KServeFixtureServer } from '@clip-search/kserve-fixture';
import type { ModelMetadataResponse } from '@clip-search/protos';
import { idBatch, maxAbsDiff, realLength, tinyClip, tokenizerGolden } from '@clip-search/clip/testing';
import { withExtraInt64Input } from '@clip-search/clip/testing';

const MAX_BATCH = 4;
const EOT = 49407n;

/** The error `promise` rejects with (a resolution fails the test). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

/** Metadata of `name` with one tensor changed. */
function editTensor(
  kind: 'inputs' | 'outputs',
  index: number,
  change: Partial<{ name: string; datatype: string; shape: number[] }>,
) {
  return (m: ModelMetadataResponse): ModelMetadataResponse => ({
    ...m,
    [kind]: m[kind].map((t, i) => (i === index ? { ...t, ...change } : t)),
  });
}

describe('TritonInferenceBackend against the KServe fixture server', () => {
  let model: ResolvedModel;
  let manifest: ModelManifest;
  let server: KServeFixtureServer;
  let reference: OnnxInferenceBackend;
  let tokens: TokenBatch;
  const opened: TritonInferenceBackend[] = [];

  const connect = async (settings: Partial<TritonConfig> = {}, m: ModelManifest = manifest) => {
    const backend = await TritonInferenceBackend.connect(
      tritonConfig({ url: server.url, connectTimeoutMs: 3_000, ...settings }),
      m,
    );
    opened.push(backend);
    return backend;
  };
  const refusal = (settings: Partial<TritonConfig>) =>
    rejection(
      TritonInferenceBackend.connect(
        tritonConfig({ url: server.url, connectTimeoutMs: 200, ...settings }),
        manifest,
      ),
    );

  beforeAll(async () => {
    model = await tinyClip();
    manifest = model.manifest;
    const textWithMask = withExtraInt64Input(await readFile(model.textPath), 'attention_mask');
    const vision = (name: string, extra: Partial<FixtureModel> = {}): FixtureModel => ({
      name,
      onnx: model.visionPath,
      maxBatchSize: MAX_BATCH,
      ...extra,
    });
    const text = (name: string, extra: Partial<FixtureModel> = {}): FixtureModel => ({
      name,
      onnx: model.textPath,
      maxBatchSize: MAX_BATCH,
      ...extra,
    });
    server = await KServeFixtureServer.start({
      models: [
        vision('clip_vision'),
        text('clip_text'),
        vision('vision_typed', { outputs: 'typed' }),
        text('text_typed', { outputs: 'typed' }),
        vision('vision_32', { maxBatchSize: 32 }),
        text('text_32', { maxBatchSize: 32 }),
        vision('vision_unbatched', { maxBatchSize: 0 }),
        text('text_with_mask', { onnx: textWithMask }),
        text('text_fixed_77', { metadata: editTensor('inputs', 0, { shape: [-1, 77] }) }),
        vision('vision_renamed_output', { metadata: editTensor('outputs', 0, { name: 'embeddings' }) }),
        vision('vision_fp16', { metadata: editTensor('inputs', 0, { datatype: 'FP16' }) }),
        vision('vision_336', { metadata: editTensor('inputs', 0, { shape: [-1, 3, 336, 336] }) }),
        vision('vision_dim_256', { metadata: editTensor('outputs', 0, { shape: [-1, 256] }) }),
        vision('vision_dim_open', { metadata: editTensor('outputs', 0, { shape: [-1, -1] }) }),
        text('text_dim_open', { metadata: editTensor('outputs', 0, { shape: [-1, -1] }) }),
        text('text_int32', { metadata: editTensor('inputs', 0, { datatype: 'INT32' }) }),
        text('text_fixed_64', { metadata: editTensor('inputs', 0, { shape: [-1, 64] }) }),
        text('text_position_ids', {
          metadata: (m) => ({
            ...m,
            inputs: [...m.inputs, { name: 'position_ids', datatype: 'INT64', shape: [-1, -1] }],
          }),
        }),
      ],
    });
    reference = await OnnxInferenceBackend.load(model, { threads: 1, maxBatchSize: 256 });
    const cases = tokenizerGolden.cases.slice(0, 12);
    tokens = idBatch(cases, Math.max(...cases.map((c) => realLength(c.ids))));
  });

  afterEach(() => {
    server.releaseInfer();
  });

  afterAll(async () => {
    for (const backend of opened) await backend.close();
    // Undefined when beforeAll failed half-way.
    await (reference as OnnxInferenceBackend | undefined)?.close();
    await (server as KServeFixtureServer | undefined)?.close();
  });

  describe('refuses to start when Triton’s model is not the manifest’s, naming the field', () => {
    test.each([
      ['vision_renamed_output', {}, /no output 'image_embeds'.*its outputs: 'embeddings'/],
      ['vision_fp16', {}, /input 'pixel_values' datatype is FP16.*expects FP32/],
      ['vision_336', {}, /input 'pixel_values' shape is \[-1,3,336,336\].*expects \[-1,3,224,224\]/],
      ['vision_dim_256', {}, /output 'image_embeds' shape is \[-1,256\].*expects \[-1,512\]/],
    ])('vision model %s', async (visionModel, _unused, message) => {
      const error = await refusal({ visionModel, connectTimeoutMs: 2_000 });
      expect(error).toBeInstanceOf(ModelMismatchError);
      expect(error.message).toMatch(message);
    });

    test.each([
      ['text_int32', /input 'input_ids' datatype is INT32.*expects INT64/],
      ['text_fixed_64', /input 'input_ids' shape: sequence length is fixed to 64.*context_length 77/],
      ['text_position_ids', /takes input 'position_ids', which the manifest .* does not declare/],
    ])('text model %s', async (textModel, message) => {
      const error = await refusal({ textModel, connectTimeoutMs: 2_000 });
      expect(error).toBeInstanceOf(ModelMismatchError);
      expect(error.message).toMatch(message);
    });

    test('an undeclared output width (-1) is checked by a test call at start', async () => {
      const backend = await connect({ visionModel: 'vision_dim_open', textModel: 'text_dim_open' });
      expect([backend.vision.dimDeclared, backend.text.dimDeclared]).toEqual([false, false]);
      const error = await rejection(
        TritonInferenceBackend.connect(
          tritonConfig({ url: server.url, visionModel: 'vision_dim_open', textModel: 'text_dim_open' }),
          { ...manifest, dim: 768 },
        ),
      );
      expect(error).toBeInstanceOf(ModelMismatchError);
      expect(error.message).toMatch(/output 'image_embeds' has shape \[1,512\], expected \[1,768\]/);
    });

    test('a manifest with another embedding dim', async () => {
      const other = { ...manifest, dim: 768 };
      const error = await rejection(TritonInferenceBackend.connect(tritonConfig({ url: server.url }), other));
      expect(error).toBeInstanceOf(ModelMismatchError);
      expect(error.message).toMatch(/output 'image_embeds' shape is \[-1,512\].*expects \[-1,768\]/);
    });
  });

  describe('start-up', () => {
    test('an unknown model is not ready: BackendUnavailableError after connectTimeoutMs, naming it', async () => {
      const error = await refusal({ visionModel: 'no_such_model' });
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(error.message).toMatch(/not ready after 200 ms.*'no_such_model'/);
    });

    test('no server: BackendUnavailableError (connection refused), not a hang', async () => {
      const gone = await KServeFixtureServer.start({ models: [] });
      const url = gone.url;
      await gone.close();
      const error = await rejection(
        TritonInferenceBackend.connect(tritonConfig({ url, connectTimeoutMs: 200 }), manifest),
      );
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(error.message).toMatch(/UNAVAILABLE/);
    });

    test('waits for a model that is still loading', async () => {
      server.setModelReady('clip_text', false);
      const pending = connect({ connectTimeoutMs: 10_000 });
      setTimeout(() => {
        server.setModelReady('clip_text', true);
      }, 300);
      const backend = await pending;
      expect(await backend.isReady()).toBe(true);
    });

    test('bad settings are a ConfigError listing each', async () => {
      const error = await rejection(
        TritonInferenceBackend.connect(
          tritonConfig({ url: server.url, maxInFlight: 0, inferDeadlineMs: -1 }),
          manifest,
        ),
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as unknown as { problems: string[] }).problems).toEqual([
        'inferDeadlineMs: expected an integer ≥ 1',
        'maxInFlight: expected an integer ≥ 1',
      ]);
    });

    test('TRITON_URL may carry a grpc:// scheme', () => {
      expect(tritonTarget('grpc://triton:8001/')).toBe('triton:8001');
      expect(tritonTarget('127.0.0.1:8001')).toBe('127.0.0.1:8001');
    });

    test('maxBatchSize is one wave: the models’ max_batch_size × maxInFlight (0 uses the client cap)', async () => {
      expect((await connect({ maxInFlight: 3 })).maxBatchSize).toBe(3 * MAX_BATCH);
      const unbatched = await connect({
        visionModel: 'vision_unbatched',
        textModel: 'text_32',
        maxInFlight: 1,
        unbatchedMaxBatchSize: 16,
      });
      expect(unbatched.vision.maxBatchSize).toBe(16);
      expect(unbatched.maxBatchSize).toBe(16);
    });
  });

  describe('retries: UNAVAILABLE and DEADLINE_EXCEEDED only', () => {
    test('two UNAVAILABLE then success: the call succeeds after 3 attempts', async () => {
      const backend = await connect({ maxRetries: 2, retryBaseDelayMs: 10 });
      const before = server.stats.inferCalls;
      server.failNextInfer(2, status.UNAVAILABLE);
      const out = await backend.runText({ ...tokens, ids: tokens.ids.subarray(0, tokens.length), count: 1 });
      expect(server.stats.inferCalls - before).toBe(3);
      expect(
        maxAbsDiff(
          out,
          await reference.runText({
            ids: tokens.ids.subarray(0, tokens.length),
            count: 1,
            length: tokens.length,
          }),
        ),
      ).toBeLessThanOrEqual(1e-5);
    });

    test('UNAVAILABLE past the retries: BackendUnavailableError', async () => {
      const backend = await connect({ maxRetries: 1, retryBaseDelayMs: 10 });
      const before = server.stats.inferCalls;
      server.failNextInfer(2, status.UNAVAILABLE, 'queue is full');
      const error = await rejection(
        backend.runText({ ids: tokens.ids.subarray(0, tokens.length), count: 1, length: tokens.length }),
      );
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(error.message).toMatch(/UNAVAILABLE: queue is full/);
      expect(server.stats.inferCalls - before).toBe(2);
    });

    test.each([
      ['INVALID_ARGUMENT', status.INVALID_ARGUMENT, ModelMismatchError],
      ['INTERNAL', status.INTERNAL, BackendUnavailableError],
      ['NOT_FOUND', status.NOT_FOUND, BackendUnavailableError],
    ])('%s is not retried', async (_name, code, type) => {
      const backend = await connect({ maxRetries: 3, retryBaseDelayMs: 10 });
      const before = server.stats.inferCalls;
      server.failNextInfer(1, code);
      const error = await rejection(
        backend.runText({ ids: tokens.ids.subarray(0, tokens.length), count: 1, length: tokens.length }),
      );
      expect(error).toBeInstanceOf(type);
      expect(server.stats.inferCalls - before).toBe(1);
    });

    test('a call past its deadline is retried, then fails with BackendUnavailableError (DEADLINE_EXCEEDED)', async () => {
      const backend = await connect({ inferDeadlineMs: 200, maxRetries: 1, retryBaseDelayMs: 10 });
      const before = server.stats.inferCalls;
      server.holdInfer();
      const error = await rejection(
        backend.runVision({ data: new Float32Array(3 * 224 * 224), count: 1, size: 224 }),
      );
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(error.message).toMatch(/DEADLINE_EXCEEDED/);
      expect(server.stats.inferCalls - before).toBe(2);
    });
  });

  test('splits a large batch and keeps at most maxInFlight requests in flight', async () => {
    const backend = await connect({ maxInFlight: 3 });
    server.stats.maxInFlight = 0;
    server.holdInfer();
    const count = 5 * MAX_BATCH;
    const ids = new BigInt64Array(count * tokens.length);
    for (let i = 0; i < count; i++)
      ids.set(
        tokens.ids.subarray((i % tokens.count) * tokens.length, ((i % tokens.count) + 1) * tokens.length),
        i * tokens.length,
      );
    const batch = { ids, count, length: tokens.length };
    const pending = backend.runText(batch);
    // Held by the server: wait (bounded) until the adapter has filled its window.
    for (let i = 0; i < 1000 && server.stats.inFlight < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.stats.inFlight).toBe(3);
    server.releaseInfer();
    const out = await pending;
    expect(server.stats.maxInFlight).toBe(3);
    expect(maxAbsDiff(out, await reference.runText(batch))).toBeLessThanOrEqual(1e-5);
  });

  test('outputs in the typed form (fp32_contents) read like raw ones', async () => {
    const backend = await connect({ visionModel: 'vision_typed', textModel: 'text_typed' });
    expect(maxAbsDiff(await backend.runText(tokens), await reference.runText(tokens))).toBeLessThanOrEqual(
      1e-5,
    );
    const pixels = {
      data: Float32Array.from({ length: 2 * 3 * 224 * 224 }, (_, i) => Math.sin(i)),
      count: 2,
      size: 224,
    };
    expect(
      maxAbsDiff(await backend.runVision(pixels), await reference.runVision(pixels)),
    ).toBeLessThanOrEqual(1e-5);
  });

  test('a text model taking attention_mask gets 1 through EOT and 0 after', async () => {
    const backend = await connect({ textModel: 'text_with_mask' });
    expect(backend.text.attentionMask).toBe('attention_mask');
    const out = await backend.runText({
      ...tokens,
      ids: tokens.ids.subarray(0, 2 * tokens.length),
      count: 2,
    });
    const fed = server.stats.lastInputs.get('text_with_mask')!;
    const ids = fed.input_ids!.data as BigInt64Array;
    const mask = fed.attention_mask!.data as BigInt64Array;
    expect(fed.attention_mask!.dims).toEqual([2, tokens.length]);
    for (let r = 0; r < 2; r++) {
      const rowIds = [...ids.subarray(r * tokens.length, (r + 1) * tokens.length)];
      const eot = rowIds.indexOf(EOT);
      const expected = rowIds.map((_, i) => (i <= eot ? 1n : 0n));
      expect([...mask.subarray(r * tokens.length, (r + 1) * tokens.length)]).toEqual(expected);
    }
    const want = await reference.runText({
      ...tokens,
      ids: tokens.ids.subarray(0, 2 * tokens.length),
      count: 2,
    });
    expect(maxAbsDiff(out, want)).toBeLessThanOrEqual(1e-5);
  });

  test('a model with a fixed sequence length gets rows padded to it, same embeddings', async () => {
    const backend = await connect({ textModel: 'text_fixed_77' });
    expect(backend.text.fixedLength).toBe(77);
    const out = await backend.runText(tokens);
    expect(server.stats.lastInputs.get('text_fixed_77')!.input_ids!.dims).toEqual([
      tokens.count % MAX_BATCH || MAX_BATCH,
      77,
    ]);
    // The text tower is causal and pools at EOT: padding after it does not change the result.
    expect(maxAbsDiff(out, await reference.runText(tokens))).toBeLessThanOrEqual(1e-5);
  });

  test('a full batch of 32 images (19 MB, above gRPC’s 4 MiB default) goes through in one request', async () => {
    const backend = await connect({ visionModel: 'vision_32', textModel: 'text_32', maxInFlight: 1 });
    const before = server.stats.batches.get('vision_32')?.length ?? 0;
    const one = 3 * 224 * 224;
    const data = new Float32Array(32 * one);
    for (let i = 0; i < one; i++) data[i] = Math.cos(i / 7);
    for (let k = 1; k < 32; k++) data.copyWithin(k * one, 0, one);
    for (let k = 0; k < 32; k++) data[k * one + k] = 2; // rows differ
    const pixels = { data, count: 32, size: 224 };
    const out = await backend.runVision(pixels);
    expect(server.stats.batches.get('vision_32')!.slice(before)).toEqual([32]);
    expect(maxAbsDiff(out, await reference.runVision(pixels))).toBeLessThanOrEqual(1e-5);
  });

  test('a model that stops being ready: isReady false, calls fail with BackendUnavailableError; then back', async () => {
    const backend = await connect({ maxRetries: 1, retryBaseDelayMs: 10 });
    server.setModelReady('clip_text', false);
    try {
      expect(await backend.isReady()).toBe(false);
      const error = await rejection(backend.runText(tokens));
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(error.message).toMatch(/'clip_text' has no available versions/);
    } finally {
      server.setModelReady('clip_text', true);
    }
    expect(await backend.isReady()).toBe(true);
    expect(maxAbsDiff(await backend.runText(tokens), await reference.runText(tokens))).toBeLessThanOrEqual(
      1e-5,
    );
  });
});
