/**
 * Wire compatibility of our KServe v2 protos with NVIDIA Triton's.
 *
 * The reference table below was transcribed by hand from Triton's published files in the GitHub repository
 * triton-inference-server/common, branch main at commit 83adf7cf88a2f343005974dff3728be746de2d66
 * (2026-07-23):
 *   - protobuf/grpc_service.proto  (last changed by 00b3a71519e32e3bc954e9f0d067e155ef8f1a6c, 2024-02-23)
 *   - protobuf/model_config.proto  (last changed by b0b538731dfbd910af5b90027f811677526072d8, 2026-04-02)
 * Fields Triton added that clip-search does not use (InferParameter's `double_param = 4` and
 * `uint64_param = 5`, `is_non_linear_format_io` of ModelInput and ModelOutput) make those messages subsets
 * here: a decoder skips numbers we do not declare as unknown fields, so that stays compatible.
 *
 * What is compared is the FileDescriptorProto that @grpc/proto-loader builds from our .proto files (the
 * same definition the client and the fixture server use), decoded here with a small reader of the protobuf
 * wire format so that oneof membership and map entries are seen exactly as declared.
 */
import { loadKServeProto } from '@clip-search/protos';

// ---------------------------------------------------------------------------------------------------------
// Triton's definitions (transcribed). Type notation: a scalar type name, a fully qualified message or enum
// name, `repeated T`, or `map<K, V>`. `complete` messages must be declared by us with every field; the
// others may be a subset, but each field we declare must match.
// ---------------------------------------------------------------------------------------------------------

type FieldRow = readonly [name: string, number: number, type: string, oneof?: string];
interface MessageRow {
  readonly complete: boolean;
  readonly fields: readonly FieldRow[];
}

const P = 'inference.';
const TRITON_MESSAGES: Readonly<Record<string, MessageRow>> = {
  // ---- grpc_service.proto ----
  'inference.ServerLiveRequest': { complete: true, fields: [] },
  'inference.ServerLiveResponse': { complete: true, fields: [['live', 1, 'bool']] },
  'inference.ServerReadyRequest': { complete: true, fields: [] },
  'inference.ServerReadyResponse': { complete: true, fields: [['ready', 1, 'bool']] },
  'inference.ModelReadyRequest': {
    complete: true,
    fields: [
      ['name', 1, 'string'],
      ['version', 2, 'string'],
    ],
  },
  'inference.ModelReadyResponse': { complete: true, fields: [['ready', 1, 'bool']] },
  'inference.ServerMetadataRequest': { complete: true, fields: [] },
  'inference.ServerMetadataResponse': {
    complete: true,
    fields: [
      ['name', 1, 'string'],
      ['version', 2, 'string'],
      ['extensions', 3, 'repeated string'],
    ],
  },
  'inference.ModelMetadataRequest': {
    complete: true,
    fields: [
      ['name', 1, 'string'],
      ['version', 2, 'string'],
    ],
  },
  'inference.ModelMetadataResponse': {
    complete: true,
    fields: [
      ['name', 1, 'string'],
      ['versions', 2, 'repeated string'],
      ['platform', 3, 'string'],
      ['inputs', 4, `repeated ${P}ModelMetadataResponse.TensorMetadata`],
      ['outputs', 5, `repeated ${P}ModelMetadataResponse.TensorMetadata`],
    ],
  },
  'inference.ModelMetadataResponse.TensorMetadata': {
    complete: true,
    fields: [
      ['name', 1, 'string'],
      ['datatype', 2, 'string'],
      ['shape', 3, 'repeated int64'],
    ],
  },
  'inference.InferParameter': {
    complete: false,
    fields: [
      ['bool_param', 1, 'bool', 'parameter_choice'],
      ['int64_param', 2, 'int64', 'parameter_choice'],
      ['string_param', 3, 'string', 'parameter_choice'],
      ['double_param', 4, 'double', 'parameter_choice'],
      ['uint64_param', 5, 'uint64', 'parameter_choice'],
    ],
  },
  'inference.InferTensorContents': {
    complete: true,
    fields: [
      ['bool_contents', 1, 'repeated bool'],
      ['int_contents', 2, 'repeated int32'],
      ['int64_contents', 3, 'repeated int64'],
      ['uint_contents', 4, 'repeated uint32'],
      ['uint64_contents', 5, 'repeated uint64'],
      ['fp32_contents', 6, 'repeated float'],
      ['fp64_contents', 7, 'repeated double'],
      ['bytes_contents', 8, 'repeated bytes'],
    ],
  },
  'inference.ModelInferRequest': {
    complete: true,
    fields: [
      ['model_name', 1, 'string'],
      ['model_version', 2, 'string'],
      ['id', 3, 'string'],
      ['parameters', 4, `map<string, ${P}InferParameter>`],
      ['inputs', 5, `repeated ${P}ModelInferRequest.InferInputTensor`],
      ['outputs', 6, `repeated ${P}ModelInferRequest.InferRequestedOutputTensor`],
      ['raw_input_contents', 7, 'repeated bytes'],
    ],
  },
  'inference.ModelInferRequest.InferInputTensor': {
    complete: true,
    fields: [
      ['name', 1, 'string'],
      ['datatype', 2, 'string'],
      ['shape', 3, 'repeated int64'],
      ['parameters', 4, `map<string, ${P}InferParameter>`],
      ['contents', 5, `${P}InferTensorContents`],
    ],
  },
  'inference.ModelInferRequest.InferRequestedOutputTensor': {
    complete: true,
    fields: [
      ['name', 1, 'string'],
      ['parameters', 2, `map<string, ${P}InferParameter>`],
    ],
  },
  'inference.ModelInferResponse': {
    complete: true,
    fields: [
      ['model_name', 1, 'string'],
      ['model_version', 2, 'string'],
      ['id', 3, 'string'],
      ['parameters', 4, `map<string, ${P}InferParameter>`],
      ['outputs', 5, `repeated ${P}ModelInferResponse.InferOutputTensor`],
      ['raw_output_contents', 6, 'repeated bytes'],
    ],
  },
  'inference.ModelInferResponse.InferOutputTensor': {
    complete: true,
    fields: [
      ['name', 1, 'string'],
      ['datatype', 2, 'string'],
      ['shape', 3, 'repeated int64'],
      ['parameters', 4, `map<string, ${P}InferParameter>`],
      ['contents', 5, `${P}InferTensorContents`],
    ],
  },
  'inference.ModelStreamInferResponse': {
    complete: true,
    fields: [
      ['error_message', 1, 'string'],
      ['infer_response', 2, `${P}ModelInferResponse`],
    ],
  },
  'inference.ModelConfigRequest': {
    complete: true,
    fields: [
      ['name', 1, 'string'],
      ['version', 2, 'string'],
    ],
  },
  'inference.ModelConfigResponse': { complete: true, fields: [['config', 1, `${P}ModelConfig`]] },

  // ---- model_config.proto ----
  'inference.ModelInstanceGroup': {
    complete: false,
    fields: [
      ['name', 1, 'string'],
      ['kind', 4, `${P}ModelInstanceGroup.Kind`],
      ['count', 2, 'int32'],
      ['rate_limiter', 6, `${P}ModelRateLimiter`],
      ['gpus', 3, 'repeated int32'],
      ['secondary_devices', 8, `repeated ${P}ModelInstanceGroup.SecondaryDevice`],
      ['profile', 5, 'repeated string'],
      ['passive', 7, 'bool'],
      ['host_policy', 9, 'string'],
    ],
  },
  'inference.ModelTensorReshape': { complete: true, fields: [['shape', 1, 'repeated int64']] },
  'inference.ModelInput': {
    complete: false,
    fields: [
      ['name', 1, 'string'],
      ['data_type', 2, `${P}DataType`],
      ['format', 3, `${P}ModelInput.Format`],
      ['dims', 4, 'repeated int64'],
      ['reshape', 5, `${P}ModelTensorReshape`],
      ['is_shape_tensor', 6, 'bool'],
      ['allow_ragged_batch', 7, 'bool'],
      ['optional', 8, 'bool'],
      ['is_non_linear_format_io', 9, 'bool'],
    ],
  },
  'inference.ModelOutput': {
    complete: false,
    fields: [
      ['name', 1, 'string'],
      ['data_type', 2, `${P}DataType`],
      ['dims', 3, 'repeated int64'],
      ['reshape', 5, `${P}ModelTensorReshape`],
      ['label_filename', 4, 'string'],
      ['is_shape_tensor', 6, 'bool'],
      ['is_non_linear_format_io', 7, 'bool'],
    ],
  },
  'inference.ModelOptimizationPolicy': {
    complete: false,
    fields: [
      ['graph', 1, `${P}ModelOptimizationPolicy.Graph`],
      ['priority', 2, `${P}ModelOptimizationPolicy.ModelPriority`],
      ['cuda', 3, `${P}ModelOptimizationPolicy.Cuda`],
      ['execution_accelerators', 4, `${P}ModelOptimizationPolicy.ExecutionAccelerators`],
      ['input_pinned_memory', 5, `${P}ModelOptimizationPolicy.PinnedMemoryBuffer`],
      ['output_pinned_memory', 6, `${P}ModelOptimizationPolicy.PinnedMemoryBuffer`],
      ['gather_kernel_buffer_threshold', 7, 'uint32'],
      ['eager_batching', 8, 'bool'],
    ],
  },
  'inference.ModelOptimizationPolicy.Graph': { complete: true, fields: [['level', 1, 'int32']] },
  'inference.ModelOptimizationPolicy.ExecutionAccelerators': {
    complete: true,
    fields: [
      [
        'gpu_execution_accelerator',
        1,
        `repeated ${P}ModelOptimizationPolicy.ExecutionAccelerators.Accelerator`,
      ],
      [
        'cpu_execution_accelerator',
        2,
        `repeated ${P}ModelOptimizationPolicy.ExecutionAccelerators.Accelerator`,
      ],
    ],
  },
  'inference.ModelOptimizationPolicy.ExecutionAccelerators.Accelerator': {
    complete: true,
    fields: [
      ['name', 1, 'string'],
      ['parameters', 2, 'map<string, string>'],
    ],
  },
  'inference.ModelDynamicBatching': {
    complete: false,
    fields: [
      ['preferred_batch_size', 1, 'repeated int32'],
      ['max_queue_delay_microseconds', 2, 'uint64'],
      ['preserve_ordering', 3, 'bool'],
      ['priority_levels', 4, 'uint64'],
      ['default_priority_level', 5, 'uint64'],
      ['default_queue_policy', 6, `${P}ModelQueuePolicy`],
      ['priority_queue_policy', 7, `map<uint64, ${P}ModelQueuePolicy>`],
    ],
  },
  'inference.ModelParameter': { complete: true, fields: [['string_value', 1, 'string']] },
  'inference.ModelConfig': {
    complete: false,
    fields: [
      ['name', 1, 'string'],
      ['platform', 2, 'string'],
      ['backend', 17, 'string'],
      ['runtime', 25, 'string'],
      ['version_policy', 3, `${P}ModelVersionPolicy`],
      ['max_batch_size', 4, 'int32'],
      ['input', 5, `repeated ${P}ModelInput`],
      ['output', 6, `repeated ${P}ModelOutput`],
      ['batch_input', 20, `repeated ${P}BatchInput`],
      ['batch_output', 21, `repeated ${P}BatchOutput`],
      ['optimization', 12, `${P}ModelOptimizationPolicy`],
      ['dynamic_batching', 11, `${P}ModelDynamicBatching`, 'scheduling_choice'],
      ['sequence_batching', 13, `${P}ModelSequenceBatching`, 'scheduling_choice'],
      ['ensemble_scheduling', 15, `${P}ModelEnsembling`, 'scheduling_choice'],
      ['instance_group', 7, `repeated ${P}ModelInstanceGroup`],
      ['default_model_filename', 8, 'string'],
      ['cc_model_filenames', 9, 'map<string, string>'],
      ['metric_tags', 10, 'map<string, string>'],
      ['parameters', 14, `map<string, ${P}ModelParameter>`],
      ['model_warmup', 16, `repeated ${P}ModelWarmup`],
      ['model_operations', 18, `${P}ModelOperations`],
      ['model_transaction_policy', 19, `${P}ModelTransactionPolicy`],
      ['model_repository_agents', 23, `${P}ModelRepositoryAgents`],
      ['response_cache', 24, `${P}ModelResponseCache`],
      ['model_metrics', 26, `${P}ModelMetrics`],
    ],
  },
};

const TRITON_ENUMS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  'inference.DataType': {
    TYPE_INVALID: 0,
    TYPE_BOOL: 1,
    TYPE_UINT8: 2,
    TYPE_UINT16: 3,
    TYPE_UINT32: 4,
    TYPE_UINT64: 5,
    TYPE_INT8: 6,
    TYPE_INT16: 7,
    TYPE_INT32: 8,
    TYPE_INT64: 9,
    TYPE_FP16: 10,
    TYPE_FP32: 11,
    TYPE_FP64: 12,
    TYPE_STRING: 13,
    TYPE_BF16: 14,
  },
  'inference.ModelInstanceGroup.Kind': { KIND_AUTO: 0, KIND_GPU: 1, KIND_CPU: 2, KIND_MODEL: 3 },
  'inference.ModelInput.Format': { FORMAT_NONE: 0, FORMAT_NHWC: 1, FORMAT_NCHW: 2 },
};

/** Triton's GRPCInferenceService unary methods (the streaming ModelStreamInfer is left out). */
const TRITON_METHODS: Readonly<Record<string, readonly [request: string, response: string]>> = {
  ServerLive: ['ServerLiveRequest', 'ServerLiveResponse'],
  ServerReady: ['ServerReadyRequest', 'ServerReadyResponse'],
  ModelReady: ['ModelReadyRequest', 'ModelReadyResponse'],
  ServerMetadata: ['ServerMetadataRequest', 'ServerMetadataResponse'],
  ModelMetadata: ['ModelMetadataRequest', 'ModelMetadataResponse'],
  ModelInfer: ['ModelInferRequest', 'ModelInferResponse'],
  ModelConfig: ['ModelConfigRequest', 'ModelConfigResponse'],
  ModelStatistics: ['ModelStatisticsRequest', 'ModelStatisticsResponse'],
  RepositoryIndex: ['RepositoryIndexRequest', 'RepositoryIndexResponse'],
  RepositoryModelLoad: ['RepositoryModelLoadRequest', 'RepositoryModelLoadResponse'],
  RepositoryModelUnload: ['RepositoryModelUnloadRequest', 'RepositoryModelUnloadResponse'],
  SystemSharedMemoryStatus: ['SystemSharedMemoryStatusRequest', 'SystemSharedMemoryStatusResponse'],
  SystemSharedMemoryRegister: ['SystemSharedMemoryRegisterRequest', 'SystemSharedMemoryRegisterResponse'],
  SystemSharedMemoryUnregister: [
    'SystemSharedMemoryUnregisterRequest',
    'SystemSharedMemoryUnregisterResponse',
  ],
  CudaSharedMemoryStatus: ['CudaSharedMemoryStatusRequest', 'CudaSharedMemoryStatusResponse'],
  CudaSharedMemoryRegister: ['CudaSharedMemoryRegisterRequest', 'CudaSharedMemoryRegisterResponse'],
  CudaSharedMemoryUnregister: ['CudaSharedMemoryUnregisterRequest', 'CudaSharedMemoryUnregisterResponse'],
  TraceSetting: ['TraceSettingRequest', 'TraceSettingResponse'],
  LogSettings: ['LogSettingsRequest', 'LogSettingsResponse'],
};

/** What clip-search needs from the protocol: these must be declared. */
const REQUIRED_METHODS = [
  'ServerLive',
  'ServerReady',
  'ModelReady',
  'ServerMetadata',
  'ModelMetadata',
  'ModelConfig',
  'ModelInfer',
];
const REQUIRED_MODEL_CONFIG_FIELDS = ['name', 'platform', 'max_batch_size', 'input', 'output'];

// ---------------------------------------------------------------------------------------------------------
// A minimal reader of the protobuf wire format, enough to decode descriptor.proto's messages.
// ---------------------------------------------------------------------------------------------------------

type WireValue = number | Uint8Array;

/** Field number → values in order (varints as numbers, length-delimited as bytes). */
function readMessage(bytes: Uint8Array): Map<number, WireValue[]> {
  const out = new Map<number, WireValue[]>();
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[pos++];
      if (byte === undefined) throw new Error('truncated varint');
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
  };
  while (pos < bytes.length) {
    const key = varint();
    const fieldNumber = Math.floor(key / 8);
    const wireType = key & 7;
    let value: WireValue;
    if (wireType === 0) value = varint();
    else if (wireType === 2) {
      const length = varint();
      value = bytes.subarray(pos, pos + length);
      pos += length;
    } else if (wireType === 1) {
      pos += 8;
      continue;
    } else if (wireType === 5) {
      pos += 4;
      continue;
    } else throw new Error(`unexpected wire type ${wireType}`);
    const list = out.get(fieldNumber) ?? [];
    list.push(value);
    out.set(fieldNumber, list);
  }
  return out;
}

const text = (m: Map<number, WireValue[]>, n: number): string | undefined => {
  const v = m.get(n)?.[0];
  return v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : undefined;
};
const num = (m: Map<number, WireValue[]>, n: number): number | undefined => {
  const v = m.get(n)?.[0];
  return typeof v === 'number' ? v : undefined;
};
const subs = (m: Map<number, WireValue[]>, n: number): Map<number, WireValue[]>[] =>
  (m.get(n) ?? []).filter((v): v is Uint8Array => v instanceof Uint8Array).map(readMessage);

// FieldDescriptorProto.Type numbers → proto type names.
const SCALAR: Readonly<Record<number, string>> = {
  1: 'double',
  2: 'float',
  3: 'int64',
  4: 'uint64',
  5: 'int32',
  6: 'fixed64',
  7: 'fixed32',
  8: 'bool',
  9: 'string',
  12: 'bytes',
  13: 'uint32',
  15: 'sfixed32',
  16: 'sfixed64',
  17: 'sint32',
  18: 'sint64',
};
const TYPE_MESSAGE = 11;
const TYPE_ENUM = 14;
const LABEL_REPEATED = 3;

interface OurField {
  number: number;
  label: number;
  type: number;
  typeName: string;
  oneof: string | undefined;
}
interface OurMessage {
  fields: Map<string, OurField>;
  mapEntry: boolean;
}

function collectDescriptors(fileDescriptorProtos: readonly Buffer[]) {
  const messages = new Map<string, OurMessage>();
  const enums = new Map<string, Map<string, number>>();
  const services = new Map<string, Map<string, { input: string; output: string; streaming: boolean }>>();

  const addEnum = (scope: string, e: Map<number, WireValue[]>) => {
    const values = new Map<string, number>();
    for (const v of subs(e, 2)) values.set(text(v, 1) ?? '', num(v, 2) ?? 0);
    enums.set(`${scope}.${text(e, 1) ?? ''}`, values);
  };
  const addMessage = (scope: string, d: Map<number, WireValue[]>) => {
    const fullName = `${scope}.${text(d, 1) ?? ''}`;
    const oneofNames = subs(d, 8).map((o) => text(o, 1) ?? '');
    const fields = new Map<string, OurField>();
    for (const f of subs(d, 2)) {
      const oneofIndex = num(f, 9);
      fields.set(text(f, 1) ?? '', {
        number: num(f, 3) ?? 0,
        label: num(f, 4) ?? 0,
        type: num(f, 5) ?? 0,
        typeName: text(f, 6) ?? '',
        oneof: oneofIndex === undefined ? undefined : oneofNames[oneofIndex],
      });
    }
    const options = subs(d, 7)[0];
    messages.set(fullName, { fields, mapEntry: options ? num(options, 7) === 1 : false });
    for (const nested of subs(d, 3)) addMessage(fullName, nested);
    for (const e of subs(d, 4)) addEnum(fullName, e);
  };

  for (const buffer of fileDescriptorProtos) {
    const file = readMessage(buffer);
    const pkg = text(file, 2) ?? '';
    for (const d of subs(file, 4)) addMessage(pkg, d);
    for (const e of subs(file, 5)) addEnum(pkg, e);
    for (const s of subs(file, 6)) {
      const methods = new Map<string, { input: string; output: string; streaming: boolean }>();
      for (const m of subs(s, 2)) {
        methods.set(text(m, 1) ?? '', {
          input: text(m, 2) ?? '',
          output: text(m, 3) ?? '',
          streaming: num(m, 5) === 1 || num(m, 6) === 1,
        });
      }
      services.set(`${pkg}.${text(s, 1) ?? ''}`, methods);
    }
  }
  return { messages, enums, services };
}

const { packageDefinition, service } = loadKServeProto();
const anyDefinition = packageDefinition['inference.ModelInferRequest'] as { fileDescriptorProtos: Buffer[] };
const ours = collectDescriptors(anyDefinition.fileDescriptorProtos);

/** Protobuf name resolution: a relative type name is looked up from the innermost enclosing scope out. */
function resolveTypeName(scope: string, name: string): string {
  if (name.startsWith('.')) return name.slice(1);
  const parts = scope.split('.');
  for (let i = parts.length; i >= 0; i--) {
    const candidate = [...parts.slice(0, i), name].join('.');
    if (ours.messages.has(candidate) || ours.enums.has(candidate)) return candidate;
  }
  throw new Error(`cannot resolve type ${name} from ${scope}`);
}

/** Our field in the table's notation. */
function notation(scope: string, field: OurField): string {
  const base =
    field.type === TYPE_MESSAGE || field.type === TYPE_ENUM
      ? resolveTypeName(scope, field.typeName)
      : (SCALAR[field.type] ?? `type#${field.type}`);
  if (field.type === TYPE_MESSAGE && field.label === LABEL_REPEATED && ours.messages.get(base)?.mapEntry) {
    const entry = ours.messages.get(base)!;
    return `map<${notation(base, entry.fields.get('key')!)}, ${notation(base, entry.fields.get('value')!)}>`;
  }
  return field.label === LABEL_REPEATED ? `repeated ${base}` : base;
}

const ourMessageNames = [...ours.messages].filter(([, m]) => !m.mapEntry).map(([name]) => name);

describe('our KServe v2 protos against Triton grpc_service.proto / model_config.proto', () => {
  test('declare the package inference and the messages clip-search exchanges', () => {
    for (const name of Object.keys(TRITON_MESSAGES).filter((n) => TRITON_MESSAGES[n]!.complete)) {
      if (name === 'inference.ModelStreamInferResponse') continue; // streaming: not used
      expect(ourMessageNames).toContain(name);
    }
    expect(ours.messages.has('inference.ModelConfig')).toBe(true);
  });

  test.each(ourMessageNames)('%s exists in Triton and each field matches name, number and type', (name) => {
    const triton = TRITON_MESSAGES[name];
    expect(triton).toBeDefined();
    const ourFields = ours.messages.get(name)!.fields;
    const tritonByName = new Map(triton!.fields.map((row) => [row[0], row]));
    for (const [fieldName, field] of ourFields) {
      const row = tritonByName.get(fieldName);
      expect({ field: fieldName, known: row !== undefined }).toEqual({ field: fieldName, known: true });
      const [, number, type, oneof] = row!;
      expect({
        field: fieldName,
        number: field.number,
        type: notation(name, field),
        oneof: field.oneof,
      }).toEqual({ field: fieldName, number, type, oneof });
    }
    if (triton!.complete) {
      expect([...ourFields.keys()].sort()).toEqual(triton!.fields.map((row) => row[0]).sort());
    }
  });

  test('ModelConfig declares what the client reads and the config.pbtxt files use', () => {
    const fields = ours.messages.get('inference.ModelConfig')!.fields;
    for (const name of REQUIRED_MODEL_CONFIG_FIELDS) expect(fields.has(name)).toBe(true);
  });

  test.each(Object.keys(TRITON_ENUMS))('enum %s has Triton’s values', (name) => {
    expect(Object.fromEntries(ours.enums.get(name) ?? [])).toEqual(TRITON_ENUMS[name]);
  });

  test('every enum we declare is one of Triton’s', () => {
    for (const name of ours.enums.keys()) expect(Object.keys(TRITON_ENUMS)).toContain(name);
  });

  test('service inference.GRPCInferenceService: our methods are Triton’s, unary, same messages', () => {
    const methods = ours.services.get('inference.GRPCInferenceService');
    expect(methods).toBeDefined();
    for (const required of REQUIRED_METHODS) expect(methods!.has(required)).toBe(true);
    for (const [name, method] of methods!) {
      const triton = TRITON_METHODS[name];
      expect({ name, known: triton !== undefined }).toEqual({ name, known: true });
      expect([
        resolveTypeName('inference', method.input),
        resolveTypeName('inference', method.output),
        method.streaming,
      ]).toEqual([P + triton![0], P + triton![1], false]);
      // The HTTP/2 path a Triton server routes on.
      expect((service[name] as { path: string }).path).toBe(`/inference.GRPCInferenceService/${name}`);
    }
  });

  test('encodes bytes Triton decodes: hand-built wire encoding of ModelReadyRequest and raw contents', () => {
    const proto = loadKServeProto();
    const method = proto.method.bind(proto);
    const ready = method('ModelReady').requestSerialize({ name: 'clip_vision', version: '1' });
    // field 1 (LEN) "clip_vision", field 2 (LEN) "1"
    expect([...ready]).toEqual([0x0a, 11, ...Buffer.from('clip_vision'), 0x12, 1, 0x31]);

    const infer = method('ModelInfer').requestSerialize({
      model_name: 'm',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2] }],
      raw_input_contents: [Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])],
    });
    const top = readMessage(infer);
    expect(text(top, 1)).toBe('m');
    const input = subs(top, 5)[0]!;
    expect([text(input, 1), text(input, 2)]).toEqual(['x', 'FP32']);
    // proto3 packs `repeated int64 shape` into one LEN field of varints.
    expect([...(input.get(3)![0] as Uint8Array)]).toEqual([1, 2]);
    expect([...(top.get(7)![0] as Uint8Array)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    // And decodes a response laid out by hand the way Triton writes it.
    const outputTensor = Buffer.from([0x0a, 1, 0x79, 0x12, 4, ...Buffer.from('FP32'), 0x1a, 2, 1, 1]);
    const response = Buffer.from([
      0x0a,
      1,
      0x6d,
      0x2a,
      outputTensor.length,
      ...outputTensor,
      0x32,
      4,
      ...Buffer.from(new Float32Array([1.5]).buffer),
    ]);
    const decoded = method('ModelInfer').responseDeserialize(response);
    expect(decoded.model_name).toBe('m');
    expect(decoded.outputs[0]).toMatchObject({ name: 'y', datatype: 'FP32', shape: [1, 1] });
    expect(Buffer.from(decoded.raw_output_contents![0]!).readFloatLE(0)).toBe(1.5);
  });

  test('uint64 fields decode as numbers (longs: Number), beyond 2^32 too', () => {
    const method = loadKServeProto().method('ModelConfig');
    const dynamicBatching = {
      max_queue_delay_microseconds: 2 ** 40 + 1,
      priority_levels: 2 ** 33,
      default_priority_level: 2,
    };
    const bytes = method.responseSerialize({
      config: { name: 'm', max_batch_size: 8, input: [], output: [], dynamic_batching: dynamicBatching },
    });
    const decoded = method.responseDeserialize(bytes).config?.dynamic_batching;
    expect(decoded).toMatchObject(dynamicBatching);
  });
});
