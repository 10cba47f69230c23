/**
 * Requests Triton refuses, with the status and message tritonserver 2.51 answers (recorded from the real
 * server in pytriton-server.test.ts). The fixture server must answer them the same way
 * (kserve-fixture-server.test.ts): clip-search's error mapping is tested against the fixture, so its
 * messages have to be Triton's.
 */
import { status } from '@grpc/grpc-js';
import type { ModelInferRequest } from '@clip-search/protos';

const SIZE = 224;
const PIXELS = 3 * SIZE * SIZE;
const REQUEST = '[request id: <id_unknown>] ';
const BATCH_DIM_NOTE =
  '. NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended ' +
  'to each input shape. If you want to specify the full shape including the batch dim in your input dims ' +
  'config, try setting max_batch_size to zero. See the model configuration docs for more info on max_batch_size.';

export type KServeErrorCase = [what: string, request: ModelInferRequest, code: status, details: string];

/** A clip_vision request of `count` zero images, as raw bytes. */
export function pixelRequest(
  count: number,
  datatype = 'FP32',
  shape = [count, 3, SIZE, SIZE],
): ModelInferRequest {
  const bytes = shape.reduce((a, b) => a * b, 1) * (datatype === 'FP64' ? 8 : 4);
  return {
    model_name: 'clip_vision',
    inputs: [{ name: 'pixel_values', datatype, shape }],
    raw_input_contents: [Buffer.alloc(bytes)],
  };
}

/** A clip_text request of `rows` rows of 4 token ids, as raw bytes. */
function tokenRequest(rows: number, datatype = 'INT64'): ModelInferRequest {
  const width = datatype === 'INT64' ? 8 : 4;
  return {
    model_name: 'clip_text',
    inputs: [{ name: 'input_ids', datatype, shape: [rows, 4] }],
    raw_input_contents: [Buffer.alloc(rows * 4 * width)],
  };
}

/** Every case, for a server whose clip_text has `textMaxBatchSize` (both models batch). */
export function kserveErrorCases(textMaxBatchSize: number): KServeErrorCase[] {
  const idsOnly = { name: 'input_ids', datatype: 'INT64', shape: [1, 4] };
  return [
    [
      'unknown model',
      { ...pixelRequest(1), model_name: 'nope' },
      status.NOT_FOUND,
      "Request for unknown model: 'nope' is not found",
    ],
    [
      'unknown version',
      { ...pixelRequest(1), model_version: '7' },
      status.NOT_FOUND,
      "Request for unknown model: 'clip_vision' version 7 is not found",
    ],
    [
      'wrong datatype (FP64 pixels)',
      pixelRequest(1, 'FP64'),
      status.INVALID_ARGUMENT,
      `${REQUEST}inference input 'pixel_values' data-type is 'FP64', but model 'clip_vision' expects 'FP32'`,
    ],
    [
      'wrong datatype (INT32 token ids)',
      tokenRequest(1, 'INT32'),
      status.INVALID_ARGUMENT,
      `${REQUEST}inference input 'input_ids' data-type is 'INT32', but model 'clip_text' expects 'INT64'`,
    ],
    [
      'wrong shape',
      pixelRequest(1, 'FP32', [1, 3, 32, 32]),
      status.INVALID_ARGUMENT,
      `${REQUEST}unexpected shape for input 'pixel_values' for model 'clip_vision'. Expected [-1,3,224,224], got [1,3,32,32]${BATCH_DIM_NOTE}`,
    ],
    [
      'batch above max_batch_size',
      tokenRequest(textMaxBatchSize + 1),
      status.INVALID_ARGUMENT,
      `${REQUEST}inference request batch-size must be <= ${textMaxBatchSize} for 'clip_text'`,
    ],
    [
      'unknown input',
      { ...pixelRequest(1), inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, SIZE, SIZE] }] },
      status.INVALID_ARGUMENT,
      "unexpected inference input 'image' for model 'clip_vision'",
    ],
    [
      'unknown output',
      { ...pixelRequest(1), outputs: [{ name: 'embeddings' }] },
      status.INVALID_ARGUMENT,
      "unexpected inference output 'embeddings' for model 'clip_vision'",
    ],
    [
      'no inputs',
      { model_name: 'clip_vision', inputs: [] },
      status.INVALID_ARGUMENT,
      `${REQUEST}expected 1 inputs but got 0 inputs for model 'clip_vision'. Got input(s) [], but missing required input(s) ['pixel_values']. Please provide all required input(s).`,
    ],
    [
      'the same input twice',
      {
        model_name: 'clip_text',
        inputs: [idsOnly, idsOnly],
        raw_input_contents: [Buffer.alloc(32), Buffer.alloc(32)],
      },
      status.INVALID_ARGUMENT,
      `${REQUEST}input 'input_ids' already exists in request`,
    ],
    [
      'raw byte size not matching the shape',
      { ...pixelRequest(1), raw_input_contents: [Buffer.alloc(12)] },
      status.INVALID_ARGUMENT,
      `${REQUEST}input byte size mismatch for input 'pixel_values' for model 'clip_vision'. Expected ${PIXELS * 4}, got 12`,
    ],
    [
      'typed contents not matching the shape',
      { model_name: 'clip_text', inputs: [{ ...idsOnly, contents: { int64_contents: [1, 2, 3] } }] },
      status.INVALID_ARGUMENT,
      `${REQUEST}input byte size mismatch for input 'input_ids' for model 'clip_text'. Expected 32, got 24`,
    ],
    [
      'no data',
      { model_name: 'clip_text', inputs: [idsOnly] },
      status.INVALID_ARGUMENT,
      "unable to find data for input tensor 'input_ids' for model 'clip_text' in request.",
    ],
  ];
}
