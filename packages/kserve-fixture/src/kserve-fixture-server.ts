/**
 * A KServe v2 gRPC server for tests and benchmarks: built from OUR protos with @grpc/grpc-js, serving ONNX
 * models through onnxruntime-node, behaving like Triton where clip-search can tell: the same RPCs, a
 * model's max_batch_size enforced, and Triton's status codes and message style for unknown models, wrong
 * shapes or datatypes, and models that are not ready. It listens on 127.0.0.1 (port 0 unless told), and
 * `stop()` / `start()` bring it down and back on the same port for recovery tests.
 *
 * Test hooks: per-model readiness, a gate that holds ModelInfer calls (to observe concurrency without
 * timing), metadata overrides (to present a mismatching model), typed instead of raw outputs, and counters.
 */
import type * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import * as ort from 'onnxruntime-node';
import {
  type InferInputTensor,
  type InferOutputTensor,
  type KServeMethodName,
  type KServeMethods,
  type ModelConfig,
  type ModelMetadataResponse,
  type TensorMetadata,
  loadKServeProto,
} from '@clip-search/protos';

export interface FixtureModel {
  /** The name clients use (Triton's model directory name). */
  readonly name: string;
  /** The ONNX model: a file path or the model's bytes. */
  readonly onnx: string | Uint8Array;
  /** As in config.pbtxt: > 0 batches up to that many rows; 0 does not batch. */
  readonly maxBatchSize: number;
  /** Rewrites what ModelMetadata reports (to impersonate a different export). */
  readonly metadata?: (metadata: ModelMetadataResponse) => ModelMetadataResponse;
  /** `typed`: outputs in InferTensorContents.fp32_contents instead of raw_output_contents. */
  readonly outputs?: 'raw' | 'typed';
}

export interface KServeFixtureOptions {
  readonly models: readonly FixtureModel[];
  /** 0 (default): any free port, kept across stop()/start(). */
  readonly port?: number;
  /** ONNX Runtime intra-op threads per model (default 1: tests share two cores). */
  readonly intraOpThreads?: number;
}

export interface FixtureStats {
  /** ModelInfer calls received (including refused and failed ones). */
  inferCalls: number;
  /** ModelInfer calls that reached a model, by model name: the batch size of each. */
  readonly batches: Map<string, number[]>;
  /** The tensors the last successful call of each model fed ONNX Runtime. */
  readonly lastInputs: Map<string, Record<string, ort.Tensor>>;
  /** Most ModelInfer calls in progress at once. */
  maxInFlight: number;
  inFlight: number;
}

interface LoadedModel {
  readonly spec: FixtureModel;
  readonly session: ort.InferenceSession;
  readonly metadata: ModelMetadataResponse;
  ready: boolean;
}

const ORT_TO_KSERVE: Readonly<Record<string, string>> = {
  float32: 'FP32',
  float16: 'FP16',
  float64: 'FP64',
  int64: 'INT64',
  int32: 'INT32',
  int8: 'INT8',
  uint8: 'UINT8',
  bool: 'BOOL',
};
const BYTES_PER: Readonly<Record<string, number>> = {
  FP32: 4,
  FP16: 2,
  FP64: 8,
  INT64: 8,
  INT32: 4,
  INT8: 1,
  UINT8: 1,
  BOOL: 1,
};

class GrpcError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(details);
  }
}

/**
 * Triton prefixes most request errors with the request id it logs (not those about unknown tensor names);
 * every message here is the one tritonserver 2.51 gives (checked against it in
 * packages/embedder-triton/test/pytriton-server.test.ts).
 */
const REQUEST = '[request id: <id_unknown>] ';
/** What Triton appends to a shape error of a model that batches. */
const BATCH_DIM_NOTE =
  '. NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended ' +
  'to each input shape. If you want to specify the full shape including the batch dim in your input dims ' +
  'config, try setting max_batch_size to zero. See the model configuration docs for more info on max_batch_size.';

export class KServeFixtureServer {
  readonly stats: FixtureStats = {
    inferCalls: 0,
    batches: new Map(),
    lastInputs: new Map(),
    maxInFlight: 0,
    inFlight: 0,
  };
  private failures: { code: grpc.status; details: string }[] = [];
  private server: grpc.Server | undefined;
  private boundPort: number;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  private constructor(
    private readonly models: Map<string, LoadedModel>,
    port: number,
  ) {
    this.boundPort = port;
  }

  /** Loads every model with ONNX Runtime and starts listening. */
  static async start(options: KServeFixtureOptions): Promise<KServeFixtureServer> {
    const models = new Map<string, LoadedModel>();
    for (const spec of options.models) {
      const sessionOptions = { intraOpNumThreads: options.intraOpThreads ?? 1, interOpNumThreads: 1 };
      const session =
        typeof spec.onnx === 'string'
          ? await ort.InferenceSession.create(spec.onnx, sessionOptions)
          : await ort.InferenceSession.create(spec.onnx, sessionOptions);
      const described = describeSession(spec, session);
      models.set(spec.name, {
        spec,
        session,
        metadata: spec.metadata ? spec.metadata(described) : described,
        ready: true,
      });
    }
    const fixture = new KServeFixtureServer(models, options.port ?? 0);
    await fixture.listen();
    return fixture;
  }

  get port(): number {
    return this.boundPort;
  }

  /** `127.0.0.1:<port>`: a TRITON_URL. */
  get url(): string {
    return `127.0.0.1:${this.boundPort}`;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Brings a stopped server back on the same port (the models stay loaded). */
  async restart(): Promise<void> {
    if (this.server) return;
    await this.listen();
  }

  /** Drops every connection at once, as a crashed or killed Triton would. */
  stop(): Promise<void> {
    this.server?.forceShutdown();
    this.server = undefined;
    return Promise.resolve();
  }

  /** Stops listening and releases the ONNX sessions. */
  async close(): Promise<void> {
    await this.stop();
    this.openGate?.();
    for (const model of this.models.values()) await model.session.release();
  }

  /** A model that is not ready answers ModelReady false and ModelInfer UNAVAILABLE (as while loading). */
  setModelReady(name: string, ready: boolean): void {
    const model = this.models.get(name);
    if (!model) throw new Error(`no fixture model ${name}`);
    model.ready = ready;
  }

  /** Holds every ModelInfer call (after it is counted in flight) until `releaseInfer()`. */
  holdInfer(): void {
    this.gate ??= new Promise((resolve) => (this.openGate = resolve));
  }

  /** The next `count` ModelInfer calls fail with `code` (to exercise the client's retry rules). */
  failNextInfer(count: number, code: grpc.status, details = 'injected failure'): void {
    for (let i = 0; i < count; i++) this.failures.push({ code, details });
  }

  releaseInfer(): void {
    this.openGate?.();
    this.gate = undefined;
    this.openGate = undefined;
  }

  private async listen(): Promise<void> {
    const server = new grpc.Server({
      // Triton accepts messages up to 2 GiB; a full batch of 224×224 images is tens of MiB.
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
    });
    widenFlowControl(server, 'before-bind');
    server.addService(loadKServeProto().service, this.handlers());
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(
        `127.0.0.1:${this.boundPort}`,
        grpc.ServerCredentials.createInsecure(),
        (error, port) => {
          if (error) reject(error);
          else resolve(port);
        },
      );
    });
    widenFlowControl(server, 'after-bind');
    this.server = server;
  }

  private handlers(): grpc.UntypedServiceImplementation {
    const unary =
      <M extends KServeMethodName>(handle: (request: KServeMethods[M][0]) => Promise<KServeMethods[M][1]>) =>
      (
        call: grpc.ServerUnaryCall<KServeMethods[M][0], KServeMethods[M][1]>,
        callback: grpc.sendUnaryData<KServeMethods[M][1]>,
      ) => {
        // A handler that throws before its first await still answers with its status.
        Promise.resolve()
          .then(() => handle(call.request))
          .then(
            (response) => {
              callback(null, response);
            },
            (error: unknown) => {
              callback(
                error instanceof GrpcError
                  ? { code: error.code, details: error.details }
                  : {
                      code: grpc.status.INTERNAL,
                      details: error instanceof Error ? error.message : String(error),
                    },
              );
            },
          );
      };
    const allReady = () => [...this.models.values()].every((m) => m.ready);
    return {
      ServerLive: unary<'ServerLive'>(() => Promise.resolve({ live: true })),
      ServerReady: unary<'ServerReady'>(() => Promise.resolve({ ready: allReady() })),
      ServerMetadata: unary<'ServerMetadata'>(() =>
        Promise.resolve({ name: 'triton', version: 'kserve-fixture', extensions: ['model_configuration'] }),
      ),
      ModelReady: unary<'ModelReady'>((request) => {
        const model = this.models.get(request.name);
        return Promise.resolve({ ready: model !== undefined && model.ready && versionOk(request.version) });
      }),
      ModelMetadata: unary<'ModelMetadata'>((request) =>
        Promise.resolve(this.model(request.name, request.version).metadata),
      ),
      ModelConfig: unary<'ModelConfig'>((request) =>
        Promise.resolve({ config: modelConfig(this.model(request.name, request.version)) }),
      ),
      ModelInfer: unary<'ModelInfer'>(async (request) => {
        this.stats.inferCalls++;
        const failure = this.failures.shift();
        if (failure) throw new GrpcError(failure.code, failure.details);
        this.stats.inFlight++;
        this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.stats.inFlight);
        try {
          if (this.gate) await this.gate;
          return await this.infer(request);
        } finally {
          this.stats.inFlight--;
        }
      }),
    };
  }

  private model(name: string, version: string | undefined): LoadedModel {
    const model = this.models.get(name);
    if (!model)
      throw new GrpcError(grpc.status.NOT_FOUND, `Request for unknown model: '${name}' is not found`);
    if (!versionOk(version)) {
      throw new GrpcError(
        grpc.status.NOT_FOUND,
        `Request for unknown model: '${name}' version ${version} is not found`,
      );
    }
    return model;
  }

  private async infer(request: KServeMethods['ModelInfer'][0]): Promise<KServeMethods['ModelInfer'][1]> {
    const model = this.model(request.model_name, request.model_version);
    const name = model.spec.name;
    if (!model.ready) {
      throw new GrpcError(
        grpc.status.UNAVAILABLE,
        `Request for unknown model: '${name}' has no available versions`,
      );
    }
    const expected = model.metadata.inputs;
    const given = request.inputs.map((input) => input.name);
    const duplicate = given.find((input, i) => given.indexOf(input) !== i);
    if (duplicate !== undefined) {
      throw new GrpcError(
        grpc.status.INVALID_ARGUMENT,
        `${REQUEST}input '${duplicate}' already exists in request`,
      );
    }
    const unknown = given.find((input) => !expected.some((t) => t.name === input));
    if (unknown !== undefined) {
      throw new GrpcError(
        grpc.status.INVALID_ARGUMENT,
        `unexpected inference input '${unknown}' for model '${name}'`,
      );
    }
    if (given.length !== expected.length) {
      const list = (names: readonly string[]) => `[${names.map((n) => `'${n}'`).join(',')}]`;
      const missing = expected.map((t) => t.name).filter((n) => !given.includes(n));
      throw new GrpcError(
        grpc.status.INVALID_ARGUMENT,
        `${REQUEST}expected ${expected.length} inputs but got ${given.length} inputs for model '${name}'. ` +
          `Got input(s) ${list(given)}, but missing required input(s) ${list(missing)}. Please provide all required input(s).`,
      );
    }
    // Triton ignores raw contents beyond the inputs, but each input needs its own.
    const raw = request.raw_input_contents ?? [];
    if (raw.length > 0 && raw.length < request.inputs.length) {
      throw new GrpcError(
        grpc.status.INVALID_ARGUMENT,
        `${REQUEST}raw_input_contents field must be specified for all inputs of model '${name}'`,
      );
    }
    let batch: number | undefined;
    const feeds: Record<string, ort.Tensor> = {};
    request.inputs.forEach((input, i) => {
      const spec = expected.find((t) => t.name === input.name);
      if (!spec) throw new Error(`input '${input.name}' was checked above`);
      if (input.datatype !== spec.datatype) {
        throw new GrpcError(
          grpc.status.INVALID_ARGUMENT,
          `${REQUEST}inference input '${input.name}' data-type is '${input.datatype}', but model '${name}' expects '${spec.datatype}'`,
        );
      }
      const rows = input.shape[0] ?? 0;
      if (model.spec.maxBatchSize > 0 && rows > model.spec.maxBatchSize) {
        throw new GrpcError(
          grpc.status.INVALID_ARGUMENT,
          `${REQUEST}inference request batch-size must be <= ${model.spec.maxBatchSize} for '${name}'`,
        );
      }
      if (!shapeFits(input.shape, spec.shape) || (batch !== undefined && rows !== batch)) {
        throw new GrpcError(
          grpc.status.INVALID_ARGUMENT,
          `${REQUEST}unexpected shape for input '${input.name}' for model '${name}'. Expected [${spec.shape.join(',')}], got [${input.shape.join(',')}]${model.spec.maxBatchSize > 0 ? BATCH_DIM_NOTE : ''}`,
        );
      }
      batch = rows;
      feeds[input.name] = toOrtTensor(name, input, raw[i]);
    });
    for (const requested of request.outputs ?? []) {
      if (!model.metadata.outputs.some((o) => o.name === requested.name)) {
        throw new GrpcError(
          grpc.status.INVALID_ARGUMENT,
          `unexpected inference output '${requested.name}' for model '${name}'`,
        );
      }
    }

    const results = await model.session.run(feeds);
    const list = this.stats.batches.get(name) ?? [];
    list.push(batch ?? 0);
    this.stats.batches.set(name, list);
    this.stats.lastInputs.set(name, feeds);

    const wanted =
      (request.outputs ?? []).length > 0 ? request.outputs!.map((o) => o.name) : model.session.outputNames;
    const outputs: InferOutputTensor[] = [];
    const rawOut: Buffer[] = [];
    for (const outputName of wanted) {
      const tensor = results[outputName]!;
      const data = tensor.data as Float32Array;
      const tensorOut: InferOutputTensor = {
        name: outputName,
        datatype: ORT_TO_KSERVE[tensor.type] ?? tensor.type,
        shape: [...tensor.dims],
      };
      if (model.spec.outputs === 'typed') tensorOut.contents = { fp32_contents: Array.from(data) };
      else rawOut.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      outputs.push(tensorOut);
    }
    return {
      model_name: name,
      model_version: '1',
      id: request.id ?? '',
      outputs,
      raw_output_contents: rawOut,
    };
  }
}

/**
 * Triton's C++ gRPC server grows its HTTP/2 flow-control windows (BDP probing); grpc-js's server keeps
 * Node's 64 KiB, so a 19 MB request would crawl in hundreds of round trips and the benchmark would measure
 * that instead of the protocol. Widening the windows needs grpc-js internals (a test fixture may): the
 * stream window before bind, the connection window on each new session. Skipped if they are not there.
 */
const FLOW_CONTROL_WINDOW = 16 * 1024 * 1024;
function widenFlowControl(server: grpc.Server, stage: 'before-bind' | 'after-bind'): void {
  const internals = server as unknown as {
    commonServerOptions?: http2.ServerOptions;
    http2Servers?: Map<http2.Http2Server, unknown>;
  };
  if (stage === 'before-bind' && internals.commonServerOptions) {
    const options = internals.commonServerOptions;
    options.settings = { ...options.settings, initialWindowSize: FLOW_CONTROL_WINDOW };
  }
  if (stage === 'after-bind' && internals.http2Servers instanceof Map) {
    for (const http2Server of internals.http2Servers.keys()) {
      http2Server.on('session', (session: http2.ServerHttp2Session) => {
        session.setLocalWindowSize(FLOW_CONTROL_WINDOW);
      });
    }
  }
}

function versionOk(version: string | undefined): boolean {
  return version === undefined || version === '' || version === '1';
}

/** ModelMetadata as Triton derives it from an ONNX model: symbolic dimensions become -1. */
function describeSession(spec: FixtureModel, session: ort.InferenceSession): ModelMetadataResponse {
  const tensors = (list: readonly ort.InferenceSession.ValueMetadata[]): TensorMetadata[] =>
    list.map((value) => {
      if (!value.isTensor) throw new Error(`${spec.name}: ${value.name} is not a tensor`);
      return {
        name: value.name,
        datatype: ORT_TO_KSERVE[value.type] ?? value.type.toUpperCase(),
        shape: value.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1)),
      };
    });
  return {
    name: spec.name,
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: tensors(session.inputMetadata),
    outputs: tensors(session.outputMetadata),
  };
}

/** The configuration Triton reports: dims without the batch dimension when the model batches. */
function modelConfig(model: LoadedModel): ModelConfig {
  const batching = model.spec.maxBatchSize > 0;
  const dims = (t: TensorMetadata) => (batching ? t.shape.slice(1) : t.shape);
  const tensor = (t: TensorMetadata) => ({
    name: t.name,
    data_type: `TYPE_${t.datatype}` as const,
    dims: dims(t),
  });
  return {
    name: model.spec.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    max_batch_size: model.spec.maxBatchSize,
    input: model.metadata.inputs.map(tensor),
    output: model.metadata.outputs.map(tensor),
    dynamic_batching: batching ? { preferred_batch_size: [], max_queue_delay_microseconds: 0 } : null,
    instance_group: [{ name: `${model.spec.name}_0`, kind: 'KIND_CPU', count: 1, gpus: [] }],
    default_model_filename: 'model.onnx',
  };
}

function shapeFits(actual: readonly number[], expected: readonly number[]): boolean {
  return actual.length === expected.length && expected.every((d, i) => d === -1 || d === actual[i]);
}

function toOrtTensor(model: string, input: InferInputTensor, raw: Uint8Array | undefined): ort.Tensor {
  const elements = input.shape.reduce((a, b) => a * b, 1);
  const width = BYTES_PER[input.datatype];
  if (width === undefined) {
    throw new GrpcError(
      grpc.status.INVALID_ARGUMENT,
      `${REQUEST}unsupported datatype '${input.datatype}' for model '${model}'`,
    );
  }
  if (raw !== undefined) {
    if (raw.byteLength !== elements * width) {
      throw new GrpcError(
        grpc.status.INVALID_ARGUMENT,
        `${REQUEST}input byte size mismatch for input '${input.name}' for model '${model}'. Expected ${elements * width}, got ${raw.byteLength}`,
      );
    }
    // A view when the bytes happen to be aligned (a protobuf bytes field sits at any offset), else an
    // aligned copy; the host is little-endian.
    let bytes: Uint8Array = raw;
    if (raw.byteOffset % width !== 0) {
      bytes = new Uint8Array(elements * width);
      bytes.set(raw);
    }
    if (input.datatype === 'FP32') {
      return new ort.Tensor(
        'float32',
        new Float32Array(bytes.buffer, bytes.byteOffset, elements),
        input.shape,
      );
    }
    if (input.datatype === 'INT64') {
      return new ort.Tensor(
        'int64',
        new BigInt64Array(bytes.buffer, bytes.byteOffset, elements),
        input.shape,
      );
    }
  } else {
    const values =
      input.datatype === 'FP32'
        ? input.contents?.fp32_contents
        : input.datatype === 'INT64'
          ? input.contents?.int64_contents
          : undefined;
    if (values === undefined || values.length === 0) {
      throw new GrpcError(
        grpc.status.INVALID_ARGUMENT,
        `unable to find data for input tensor '${input.name}' for model '${model}' in request.`,
      );
    }
    if (values.length !== elements) {
      throw new GrpcError(
        grpc.status.INVALID_ARGUMENT,
        `${REQUEST}input byte size mismatch for input '${input.name}' for model '${model}'. Expected ${elements * width}, got ${values.length * width}`,
      );
    }
    if (input.datatype === 'FP32') return new ort.Tensor('float32', Float32Array.from(values), input.shape);
    return new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), input.shape);
  }
  throw new GrpcError(
    grpc.status.INVALID_ARGUMENT,
    `${REQUEST}unsupported datatype '${input.datatype}' for model '${model}'`,
  );
}
