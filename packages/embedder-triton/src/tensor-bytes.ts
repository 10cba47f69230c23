/**
 * KServe's raw tensor contents are little-endian, row-major, without padding. On a little-endian host (every
 * machine Node ships for in practice) that is the typed array's own memory, so requests are sent without a
 * copy; a big-endian host swaps bytes.
 */
import os from 'node:os';
import { ModelMismatchError } from '@clip-search/contracts';
import type { InferOutputTensor } from '@clip-search/protos';

const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

/** The bytes of `values` in little-endian order (a view when the host is little-endian). */
export function littleEndianBytes(values: Float32Array | BigInt64Array): Buffer {
  const view = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  if (LITTLE_ENDIAN_HOST) return view;
  const copy = Buffer.from(view);
  if (values instanceof Float32Array) copy.swap32();
  else copy.swap64();
  return copy;
}

/**
 * An FP32 output as a Float32Array of `elements` values, from `raw` (raw_output_contents) when the server
 * used it, else from the typed `contents.fp32_contents`. Any other datatype or element count means the
 * model is not the one we checked at start.
 */
export function readFp32Output(
  model: string,
  tensor: InferOutputTensor,
  raw: Uint8Array | undefined,
  elements: number,
): Float32Array {
  if (tensor.datatype !== 'FP32') {
    throw new ModelMismatchError(
      `Triton model '${model}' returned output '${tensor.name}' as ${tensor.datatype}, expected FP32`,
    );
  }
  if (raw !== undefined && raw.byteLength > 0) {
    if (raw.byteLength !== elements * 4) {
      throw new ModelMismatchError(
        `Triton model '${model}' returned ${raw.byteLength} bytes for output '${tensor.name}', expected ${elements * 4} (${elements} FP32 values)`,
      );
    }
    // Copied into fresh memory: the response buffer's offset need not be 4-byte aligned.
    const out = new Float32Array(elements);
    const bytes = new Uint8Array(out.buffer);
    bytes.set(raw);
    if (!LITTLE_ENDIAN_HOST) Buffer.from(out.buffer).swap32();
    return out;
  }
  const typed = tensor.contents?.fp32_contents ?? [];
  if (typed.length !== elements) {
    throw new ModelMismatchError(
      `Triton model '${model}' returned ${typed.length} values for output '${tensor.name}', expected ${elements}`,
    );
  }
  return Float32Array.from(typed);
}
