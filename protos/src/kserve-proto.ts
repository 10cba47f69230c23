/**
 * Our KServe v2 protocol (inference/*.proto), loaded once with @grpc/proto-loader and typed by hand for the
 * messages clip-search exchanges. The Triton adapter (@clip-search/embedder-triton) and the test fixture
 * server (@clip-search/kserve-fixture) both use it, so client and server speak from the same definition.
 */
import * as protoLoader from '@grpc/proto-loader';
import type * as grpc from '@grpc/grpc-js';
import { GRPC_SERVICE_PROTO, INFERENCE_PROTO_DIR } from './proto-paths';

export const KSERVE_PROTO_DIR = INFERENCE_PROTO_DIR;
export const KSERVE_SERVICE_PROTO = GRPC_SERVICE_PROTO;

/** How decoded messages look: field names as in the .proto, int64 as number, enums as names, defaults filled. */
export const KSERVE_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  // Shapes and counts; token ids go as raw bytes, so no int64 value we read exceeds 2^53.
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  arrays: true,
  oneofs: true,
  includeDirs: [KSERVE_PROTO_DIR],
};

// ---- Messages (decoded form; requests may leave fields out) ----

export interface InferParameter {
  bool_param?: boolean;
  int64_param?: number;
  string_param?: string;
  /** Which member of the oneof is set (proto-loader's `oneofs` option). */
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param';
}

export interface InferTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: number[];
  uint_contents?: number[];
  uint64_contents?: number[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

export interface InferInputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, InferParameter>;
  contents?: InferTensorContents | null;
}

export interface InferRequestedOutputTensor {
  name: string;
  parameters?: Record<string, InferParameter>;
}

export interface ModelInferRequest {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, InferParameter>;
  inputs: InferInputTensor[];
  outputs?: InferRequestedOutputTensor[];
  raw_input_contents?: Uint8Array[];
}

export interface InferOutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, InferParameter>;
  contents?: InferTensorContents | null;
}

export interface ModelInferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, InferParameter>;
  outputs: InferOutputTensor[];
  raw_output_contents?: Uint8Array[];
}

export interface TensorMetadata {
  name: string;
  /** KServe v2 datatype: FP32, INT64... */
  datatype: string;
  /** -1 marks a variable dimension. */
  shape: number[];
}

export interface ModelMetadataResponse {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface ModelRef {
  name: string;
  version?: string;
}

export interface ServerLiveResponse {
  live: boolean;
}
export interface ReadyResponse {
  ready: boolean;
}
export interface ServerMetadataResponse {
  name: string;
  version: string;
  extensions: string[];
}

/** Names of `inference.DataType` (the RPCs' datatype strings are these without `TYPE_`). */
export type ConfigDataType = `TYPE_${string}`;

export interface ModelTensorConfig {
  name: string;
  data_type: ConfigDataType;
  dims: number[];
  /** Inputs only: the request may leave it out. */
  optional?: boolean;
}

export interface ModelInstanceGroupConfig {
  name?: string;
  kind?: 'KIND_AUTO' | 'KIND_GPU' | 'KIND_CPU' | 'KIND_MODEL';
  count?: number;
  gpus?: number[];
}

export interface ModelDynamicBatchingConfig {
  preferred_batch_size?: number[];
  max_queue_delay_microseconds?: number;
  preserve_ordering?: boolean;
}

/** The subset of Triton's ModelConfig that protos/inference/model_config.proto declares. */
export interface ModelConfig {
  name: string;
  platform?: string;
  backend?: string;
  max_batch_size: number;
  input: ModelTensorConfig[];
  output: ModelTensorConfig[];
  dynamic_batching?: ModelDynamicBatchingConfig | null;
  instance_group?: ModelInstanceGroupConfig[];
  default_model_filename?: string;
}

export interface ModelConfigResponse {
  config: ModelConfig | null;
}

type Empty = Record<string, never>;

/** Every RPC clip-search uses, with its request and (decoded) response types. */
export interface KServeMethods {
  ServerLive: [Empty, ServerLiveResponse];
  ServerReady: [Empty, ReadyResponse];
  ModelReady: [ModelRef, ReadyResponse];
  ServerMetadata: [Empty, ServerMetadataResponse];
  ModelMetadata: [ModelRef, ModelMetadataResponse];
  ModelConfig: [ModelRef, ModelConfigResponse];
  ModelInfer: [ModelInferRequest, ModelInferResponse];
}
export type KServeMethodName = keyof KServeMethods;

export type KServeMethodDefinition<M extends KServeMethodName> = protoLoader.MethodDefinition<
  KServeMethods[M][0],
  KServeMethods[M][1]
>;

export interface KServeProto {
  readonly packageDefinition: protoLoader.PackageDefinition;
  /** For `grpc.Server.addService`. */
  readonly service: grpc.ServiceDefinition;
  method<M extends KServeMethodName>(name: M): KServeMethodDefinition<M>;
}

let loaded: KServeProto | undefined;

/** Parses the .proto files once per process. */
export function loadKServeProto(): KServeProto {
  if (loaded) return loaded;
  const packageDefinition = protoLoader.loadSync(KSERVE_SERVICE_PROTO, KSERVE_LOADER_OPTIONS);
  const service = packageDefinition['inference.GRPCInferenceService'] as protoLoader.ServiceDefinition;
  loaded = {
    packageDefinition,
    service: service as unknown as grpc.ServiceDefinition,
    method<M extends KServeMethodName>(name: M): KServeMethodDefinition<M> {
      const definition = service[name];
      if (!definition) throw new Error(`inference.GRPCInferenceService has no method ${name}`);
      return definition as unknown as KServeMethodDefinition<M>;
    },
  };
  return loaded;
}
