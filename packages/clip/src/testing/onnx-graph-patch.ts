/**
 * Adds a graph input to an ONNX model without an ONNX library, by protobuf's merge rule: a singular
 * message field that occurs twice is merged, so appending `graph { input { … } }` to a ModelProto adds
 * one input to its graph. Used to make a text model that (like some Hugging Face exports) also takes
 * `attention_mask`, from tiny-clip's.
 */
function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function field(number: number, payload: number[]): number[] {
  return [...varint((number << 3) | 2), ...varint(payload.length), ...payload];
}

const text = (s: string): number[] => [...Buffer.from(s, 'utf8')];

const ONNX_INT64 = 7;

/** `model` plus an int64 graph input `name` of shape [batch, sequence] (symbolic dims). */
export function withExtraInt64Input(model: Uint8Array, name: string): Buffer {
  const dims = [field(1, field(2, text('batch'))), field(1, field(2, text('sequence')))].flat();
  const tensorType = [...varint((1 << 3) | 0), ...varint(ONNX_INT64), ...field(2, dims)];
  const valueInfo = [...field(1, text(name)), ...field(2, field(1, tensorType))];
  const graph = field(11, valueInfo);
  return Buffer.concat([Buffer.from(model), Buffer.from(field(7, graph))]);
}
