/**
 * The InferenceBackend that runs CLIP's two towers on NVIDIA Triton over KServe v2 gRPC (distributed
 * mode). Tensors arrive preprocessed and tokenized (the gateway and the worker do that on their CPUs) and
 * travel as raw little-endian bytes; Triton's dynamic batcher merges requests from many clients on the GPU.
 *
 * At start it checks that Triton serves the models the manifest describes (names, datatypes, shapes, the
 * embedding width) and refuses to start otherwise. Afterwards: a batch above the model's max_batch_size is
 * split and its parts sent concurrently (bounded), every call has a deadline, UNAVAILABLE and
 * DEADLINE_EXCEEDED are retried with backoff, and when Triton is down calls fail fast with
 * BackendUnavailableError while the channel keeps reconnecting in the background.
 */
import { BackendUnavailableError, InvalidInputError, ModelMismatchError } from '@clip-search/contracts';
import { createSilentLogger, type Logger } from '@clip-search/platform';
import type { ModelManifest } from '@clip-search/contracts';
import { buildAttentionMask, CLIP_EOT_ID } from '@clip-search/contracts';
import type { InferenceBackend, PixelBatch, TokenBatch } from '@clip-search/contracts';
import { ConcurrencyLimit } from './concurrency-limit';
import { KServeClient } from './kserve-client';
import type { InferInputTensor, ModelRef } from '@clip-search/protos';
import { withRetries } from './retry';
import { littleEndianBytes, readFp32Output } from './tensor-bytes';
import { checkTritonConfig, type TritonConfig, tritonTarget } from './triton-config';
import { isTransient, tritonCallError } from './triton-errors';
import {
  type TextContract,
  type TowerContract,
  type VisionContract,
  textContract,
  visionContract,
} from './triton-model-contract';

export interface TritonConnectOptions {
  readonly logger?: Logger;
}

/** One request's tensors: metadata and the raw bytes of each input, in the same order. */
interface InferInputs {
  readonly inputs: InferInputTensor[];
  readonly raw: Buffer[];
}

/** CLIP's start-of-text id; with end-of-text, the shortest real text (for the start-up width check). */
const CLIP_SOT_ID = 49406;

/** Room for everything in a ModelInfer message besides the tensor bytes (names, shapes, framing). */
const MESSAGE_OVERHEAD_BYTES = 64 * 1024;
/** grpc-js's default receive limit; small responses (metadata, errors) always fit. */
const DEFAULT_RECEIVE_BYTES = 4 * 1024 * 1024;

export class TritonInferenceBackend implements InferenceBackend {
  readonly kind = 'triton';
  /**
   * The largest batch one call takes: the smaller model max_batch_size times `maxInFlight`, i.e. one wave
   * of concurrent requests (ClipEmbedder's micro-batcher keeps one batch in flight, so this is how a
   * batch reaches several Triton instances at once). Larger calls are split all the same, in waves.
   */
  readonly maxBatchSize: number;
  private closed = false;
  private readonly limit: ConcurrencyLimit;
  private readonly target: string;

  private constructor(
    private readonly config: TritonConfig,
    private readonly client: KServeClient,
    readonly vision: VisionContract,
    readonly text: TextContract,
    private readonly logger: Logger,
  ) {
    this.maxBatchSize = Math.min(vision.maxBatchSize, text.maxBatchSize) * config.maxInFlight;
    this.limit = new ConcurrencyLimit(config.maxInFlight);
    this.target = client.options.target;
  }

  /**
   * Waits (up to `connectTimeoutMs`) for the server and both models to be ready, then checks their
   * metadata and config against the manifest. Throws BackendUnavailableError when Triton is not ready in
   * time and ModelMismatchError (naming the field) when its models are not the manifest's.
   */
  static async connect(
    config: TritonConfig,
    manifest: ModelManifest,
    options: TritonConnectOptions = {},
  ): Promise<TritonInferenceBackend> {
    checkTritonConfig(config);
    const logger = options.logger ?? createSilentLogger();
    const target = tritonTarget(config.url);
    const channel = {
      target,
      keepaliveTimeMs: config.keepaliveTimeMs,
      keepaliveTimeoutMs: config.keepaliveTimeoutMs,
      reconnectBackoffMaxMs: config.reconnectBackoffMaxMs,
    };
    // Message limits depend on max_batch_size, known only after asking: a first channel with the defaults
    // does the handshake, the one kept for inference is sized from its answers.
    const probe = new KServeClient(channel);
    let vision: VisionContract;
    let text: TextContract;
    try {
      await waitUntilReady(probe, config, target);
      const visionRef = modelRef(config.visionModel, config.modelVersion);
      const textRef = modelRef(config.textModel, config.modelVersion);
      const ask = <M extends 'ModelMetadata' | 'ModelConfig'>(method: M, ref: ModelRef) =>
        withRetries(
          () => probe.call(method, ref, config.probeDeadlineMs),
          retryPolicy(config),
          isTransient,
        ).catch((error: unknown) => {
          throw tritonCallError(error, `${method} '${ref.name}'`, target);
        });
      const [visionMetadata, visionConfig, textMetadata, textConfig] = await Promise.all([
        ask('ModelMetadata', visionRef),
        ask('ModelConfig', visionRef),
        ask('ModelMetadata', textRef),
        ask('ModelConfig', textRef),
      ]);
      vision = visionContract(visionMetadata, visionConfig.config, manifest, config.unbatchedMaxBatchSize);
      text = textContract(textMetadata, textConfig.config, manifest, config.unbatchedMaxBatchSize);
    } finally {
      probe.close();
    }

    const sizes = messageSizes(vision, text, manifest);
    const client = new KServeClient({ ...channel, ...sizes });
    logger.info('Triton backend connected', {
      target,
      vision: { model: vision.model, maxBatchSize: vision.maxBatchSize },
      text: { model: text.model, maxBatchSize: text.maxBatchSize, fixedLength: text.fixedLength },
      maxSendBytes: sizes.maxSendBytes,
      maxReceiveBytes: sizes.maxReceiveBytes,
    });
    const backend = new TritonInferenceBackend(config, client, vision, text, logger);
    try {
      await backend.checkUndeclaredDims();
    } catch (error) {
      await backend.close();
      throw error;
    }
    return backend;
  }

  async runVision(batch: PixelBatch): Promise<Float32Array> {
    this.assertOpen();
    const { data, count, size } = batch;
    const contract = this.vision;
    if (size !== contract.size) {
      throw new InvalidInputError(
        `pixel batch size ${size}×${size}, the model takes ${contract.size}×${contract.size}`,
      );
    }
    const perImage = 3 * size * size;
    assertCount(count);
    if (data.length !== count * perImage) {
      throw new InvalidInputError(
        `pixel batch holds ${data.length} floats, expected ${count} × 3 × ${size} × ${size} = ${count * perImage}`,
      );
    }
    return this.runSplit(contract, count, (start, rows) => ({
      inputs: [{ name: contract.input, datatype: 'FP32', shape: [rows, 3, size, size] }],
      raw: [littleEndianBytes(data.subarray(start * perImage, (start + rows) * perImage))],
    }));
  }

  async runText(batch: TokenBatch): Promise<Float32Array> {
    this.assertOpen();
    const { ids, count, length } = batch;
    const contract = this.text;
    assertCount(count);
    if (!Number.isInteger(length) || length < 1 || length > contract.contextLength) {
      throw new InvalidInputError(`token batch length ${length}, expected 1…${contract.contextLength}`);
    }
    if (ids.length !== count * length) {
      throw new InvalidInputError(`token batch holds ${ids.length} ids, expected ${count} × ${length}`);
    }
    // A model with a fixed sequence dimension gets every row padded to it.
    const width = contract.fixedLength ?? length;
    const padded = width === length ? ids : padRows(ids, count, length, width, contract.padId);
    const mask =
      contract.attentionMask === undefined
        ? undefined
        : buildAttentionMask({ ids: padded, count, length: width }, { padId: contract.padId });
    return this.runSplit(contract, count, (start, rows) => {
      const rowsOf = (values: BigInt64Array) => values.subarray(start * width, (start + rows) * width);
      const inputs: InferInputTensor[] = [{ name: contract.input, datatype: 'INT64', shape: [rows, width] }];
      const raw = [littleEndianBytes(rowsOf(padded))];
      if (mask !== undefined && contract.attentionMask !== undefined) {
        inputs.push({ name: contract.attentionMask, datatype: 'INT64', shape: [rows, width] });
        raw.push(littleEndianBytes(rowsOf(mask)));
      }
      return { inputs, raw };
    });
  }

  /** Server and both models ready, asked now (a few small calls with the probe deadline). Never throws. */
  async isReady(): Promise<boolean> {
    if (this.closed) return false;
    try {
      return await probeReady(this.client, this.config);
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.client.close();
    }
    return Promise.resolve();
  }

  /**
   * When ModelMetadata leaves an output's width variable (-1), one tiny call per such tower shows it now,
   * so that a model of another width is refused at start rather than on the first query.
   */
  private async checkUndeclaredDims(): Promise<void> {
    if (!this.vision.dimDeclared) {
      const { size } = this.vision;
      await this.runVision({ data: new Float32Array(3 * size * size), count: 1, size });
    }
    if (!this.text.dimDeclared) {
      await this.runText({
        ids: BigInt64Array.from([BigInt(CLIP_SOT_ID), BigInt(CLIP_EOT_ID)]),
        count: 1,
        length: 2,
      });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new BackendUnavailableError('the Triton backend is closed');
  }

  /** Splits `count` rows into requests of at most max_batch_size, runs them (bounded), joins the rows. */
  private async runSplit(
    contract: TowerContract,
    count: number,
    build: (start: number, rows: number) => InferInputs,
  ): Promise<Float32Array> {
    const out = new Float32Array(count * contract.dim);
    const parts: Promise<void>[] = [];
    for (let start = 0; start < count; start += contract.maxBatchSize) {
      const rows = Math.min(contract.maxBatchSize, count - start);
      parts.push(
        this.limit.run(async () => {
          const embeddings = await this.infer(contract, rows, build(start, rows));
          out.set(embeddings, start * contract.dim);
        }),
      );
    }
    // Every part settles before the call does, so no request outlives a failed call unobserved.
    const settled = await Promise.allSettled(parts);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) throw failure.reason;
    return out;
  }

  private async infer(contract: TowerContract, rows: number, request: InferInputs): Promise<Float32Array> {
    const call = () =>
      this.client.call(
        'ModelInfer',
        {
          model_name: contract.model,
          model_version: this.config.modelVersion,
          inputs: request.inputs,
          outputs: [{ name: contract.output }],
          raw_input_contents: request.raw,
        },
        this.config.inferDeadlineMs,
      );
    let response;
    try {
      response = await withRetries(call, retryPolicy(this.config), isTransient, (error, retry, delayMs) => {
        this.logger.warn('Triton call failed, retrying', {
          model: contract.model,
          retry,
          delayMs,
          error: error instanceof Error ? error.message : String(error),
        });
        this.client.state(true);
      });
    } catch (error) {
      throw tritonCallError(error, `ModelInfer '${contract.model}' (${rows} rows)`, this.target);
    }
    const index = response.outputs.findIndex((o) => o.name === contract.output);
    const tensor = response.outputs[index];
    const where = `Triton at ${this.target}: model '${contract.model}'`;
    if (!tensor) {
      throw new ModelMismatchError(`${where} answered without output '${contract.output}'`);
    }
    const [outRows, outDim] = tensor.shape;
    if (tensor.shape.length !== 2 || outRows !== rows || outDim !== contract.dim) {
      throw new ModelMismatchError(
        `${where} output '${contract.output}' has shape [${tensor.shape.join(',')}], expected [${rows},${contract.dim}]`,
      );
    }
    return readFp32Output(contract.model, tensor, response.raw_output_contents?.[index], rows * contract.dim);
  }
}

function modelRef(name: string, version: string): ModelRef {
  return { name, version };
}

function retryPolicy(config: TritonConfig) {
  return {
    maxRetries: config.maxRetries,
    baseDelayMs: config.retryBaseDelayMs,
    maxDelayMs: config.retryMaxDelayMs,
  };
}

function assertCount(count: number): void {
  if (!Number.isInteger(count) || count < 1) {
    throw new InvalidInputError(`batch count must be a positive integer, got ${count}`);
  }
}

function padRows(
  ids: BigInt64Array,
  count: number,
  length: number,
  width: number,
  padId: number,
): BigInt64Array {
  const out = new BigInt64Array(count * width).fill(BigInt(padId));
  for (let row = 0; row < count; row++) out.set(ids.subarray(row * length, (row + 1) * length), row * width);
  return out;
}

/** Send and receive limits that fit one full request of either model, and no more. */
function messageSizes(vision: VisionContract, text: TextContract, manifest: ModelManifest) {
  const visionBytes = vision.maxBatchSize * 3 * vision.size * vision.size * 4;
  const inputsPerRow = text.attentionMask === undefined ? 1 : 2;
  const textBytes = text.maxBatchSize * (text.fixedLength ?? manifest.text.contextLength) * 8 * inputsPerRow;
  const outputBytes = Math.max(vision.maxBatchSize, text.maxBatchSize) * manifest.dim * 4;
  return {
    maxSendBytes: Math.max(visionBytes, textBytes) + MESSAGE_OVERHEAD_BYTES,
    maxReceiveBytes: Math.max(DEFAULT_RECEIVE_BYTES, outputBytes + MESSAGE_OVERHEAD_BYTES),
  };
}

async function probeReady(client: KServeClient, config: TritonConfig): Promise<boolean> {
  // An idle or backing-off channel is asked to connect now, so readiness reflects the server, not the timer.
  client.state(true);
  const [server, vision, text] = await Promise.all([
    client.call('ServerReady', {}, config.probeDeadlineMs),
    client.call('ModelReady', modelRef(config.visionModel, config.modelVersion), config.probeDeadlineMs),
    client.call('ModelReady', modelRef(config.textModel, config.modelVersion), config.probeDeadlineMs),
  ]);
  return server.ready && vision.ready && text.ready;
}

/** Polls readiness until it holds or `connectTimeoutMs` passes; then says what was not ready. */
async function waitUntilReady(client: KServeClient, config: TritonConfig, target: string): Promise<void> {
  const deadline = Date.now() + config.connectTimeoutMs;
  for (;;) {
    let reason: string;
    try {
      if (await probeReady(client, config)) return;
      reason = `server or models '${config.visionModel}', '${config.textModel}' not ready`;
    } catch (error) {
      reason = tritonCallError(error, 'readiness check', target).message;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new BackendUnavailableError(
        `Triton at ${target} is not ready after ${config.connectTimeoutMs} ms: ${reason}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(500, remaining)));
  }
}
