/**
 * The KServe v2 fixture server answers like Triton where clip-search can tell: metadata and config of an
 * ONNX model, max_batch_size enforced, Triton's status codes and messages for unknown models, wrong
 * datatypes and shapes (the cases of kserve-error-cases.ts, which the real server answers the same way), and
 * models that are not ready; and it comes back on the same port after stop().
 */
import { status } from '@grpc/grpc-js';
import { KServeClient } from '../src/kserve-client';
import type { ModelInferRequest } from '@clip-search/protos';
import { KServeFixtureServer } from '@clip-search/kserve-fixture';
import { tinyClip } from '@clip-search/clip/testing';
import { kserveErrorCases, pixelRequest } from './kserve-error-cases';

const SIZE = 224;
const PER_IMAGE = 3 * SIZE * SIZE;

describe('KServe v2 fixture server', () => {
  let server: KServeFixtureServer;
  let client: KServeClient;

  const open = () =>
    new KServeClient({
      target: server.url,
      keepaliveTimeMs: 60_000,
      keepaliveTimeoutMs: 20_000,
      reconnectBackoffMaxMs: 500,
      maxReceiveBytes: 64 * 1024 * 1024,
    });
  const failure = (request: ModelInferRequest) =>
    client.call('ModelInfer', request, 5_000).then(
      () => ({ code: -1, details: 'succeeded' }),
      (e: unknown) => {
        const { code, details } = e as { code: number; details: string };
        return { code, details };
      },
    );

  beforeAll(async () => {
    const model = await tinyClip();
    server = await KServeFixtureServer.start({
      models: [
        { name: 'clip_vision', onnx: model.visionPath, maxBatchSize: 2 },
        { name: 'clip_text', onnx: model.textPath, maxBatchSize: 2 },
      ],
    });
    client = open();
  });

  afterAll(async () => {
    // Undefined when beforeAll failed half-way.
    (client as KServeClient | undefined)?.close();
    await (server as KServeFixtureServer | undefined)?.close();
  });

  test('health, server metadata, model metadata and config', async () => {
    expect(await client.call('ServerLive', {}, 2_000)).toEqual({ live: true });
    expect(await client.call('ServerReady', {}, 2_000)).toEqual({ ready: true });
    expect(await client.call('ModelReady', { name: 'clip_text' }, 2_000)).toEqual({ ready: true });
    expect(await client.call('ModelReady', { name: 'nope' }, 2_000)).toEqual({ ready: false });
    expect((await client.call('ServerMetadata', {}, 2_000)).name).toBe('triton');
    const metadata = await client.call('ModelMetadata', { name: 'clip_vision' }, 2_000);
    expect(metadata).toEqual({
      name: 'clip_vision',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'pixel_values', datatype: 'FP32', shape: [-1, 3, SIZE, SIZE] }],
      outputs: [{ name: 'image_embeds', datatype: 'FP32', shape: [-1, 512] }],
    });
    const { config } = await client.call('ModelConfig', { name: 'clip_text' }, 2_000);
    expect(config).toMatchObject({
      name: 'clip_text',
      platform: 'onnxruntime_onnx',
      max_batch_size: 2,
      input: [{ name: 'input_ids', data_type: 'TYPE_INT64', dims: [-1] }],
      output: [{ name: 'text_embeds', data_type: 'TYPE_FP32', dims: [512] }],
    });
  });

  test('runs a request given as raw bytes or as typed contents, to the same result', async () => {
    const values = Float32Array.from({ length: PER_IMAGE }, (_, i) => Math.sin(i));
    const raw = await client.call(
      'ModelInfer',
      {
        model_name: 'clip_vision',
        inputs: [{ name: 'pixel_values', datatype: 'FP32', shape: [1, 3, SIZE, SIZE] }],
        raw_input_contents: [Buffer.from(values.buffer)],
      },
      5_000,
    );
    const typed = await client.call(
      'ModelInfer',
      {
        model_name: 'clip_vision',
        inputs: [
          {
            name: 'pixel_values',
            datatype: 'FP32',
            shape: [1, 3, SIZE, SIZE],
            contents: { fp32_contents: Array.from(values) },
          },
        ],
      },
      5_000,
    );
    expect(raw.outputs).toEqual([
      { name: 'image_embeds', datatype: 'FP32', shape: [1, 512], parameters: {}, contents: null },
    ]);
    expect(raw.raw_output_contents![0]!.byteLength).toBe(512 * 4);
    expect(Buffer.from(typed.raw_output_contents![0]!)).toEqual(Buffer.from(raw.raw_output_contents![0]!));
  });

  test.each(kserveErrorCases(2))('%s: Triton’s status and message', async (_what, request, code, details) => {
    expect(await failure(request)).toEqual({ code, details });
  });

  test('a model that is not ready: ModelReady false, ServerReady false, ModelInfer UNAVAILABLE', async () => {
    server.setModelReady('clip_vision', false);
    try {
      expect(await client.call('ModelReady', { name: 'clip_vision' }, 2_000)).toEqual({ ready: false });
      expect(await client.call('ServerReady', {}, 2_000)).toEqual({ ready: false });
      expect(await failure(pixelRequest(1))).toEqual({
        code: status.UNAVAILABLE,
        details: "Request for unknown model: 'clip_vision' has no available versions",
      });
    } finally {
      server.setModelReady('clip_vision', true);
    }
  });

  test('stop() drops clients; restart() serves again on the same port', async () => {
    const port = server.port;
    await server.stop();
    expect(server.listening).toBe(false);
    const down = await client
      .call('ServerLive', {}, 2_000)
      .catch((e: unknown) => (e as { code: number }).code);
    expect(down).toBe(status.UNAVAILABLE);
    await server.restart();
    expect(server.port).toBe(port);
    const again = open();
    try {
      expect(await again.call('ServerLive', {}, 5_000)).toEqual({ live: true });
    } finally {
      again.close();
    }
  });
});
