import type { TokenBatch } from './inference-backend';

/** CLIP's end-of-text token (`<|endoftext|>`), the position the text tower pools at. */
export const CLIP_EOT_ID = 49407;

export interface AttentionMaskOptions {
  /** The end-of-text id; the mask covers each row up to and including its first one. */
  readonly eotId?: number;
  /** The padding id, used for a row with no end-of-text (the mask then covers up to its last non-pad id). */
  readonly padId?: number;
}

/**
 * The attention mask some exports (Hugging Face `CLIPTextModelWithProjection` with `attention_mask` as a
 * graph input) take beside the ids: 1 up to and including EOT, 0 after, same int64 shape as the ids.
 *
 * It is derived from the EOT position rather than from `id != pad` because CLIP pads with 0, which is
 * also a real token (`!`); and some tokenizers pad with EOT itself. Shared by every InferenceBackend
 * adapter (ONNX Runtime, Triton) so that they feed the same mask.
 */
export function buildAttentionMask(batch: TokenBatch, options: AttentionMaskOptions = {}): BigInt64Array {
  const eotId = BigInt(options.eotId ?? CLIP_EOT_ID);
  const padId = BigInt(options.padId ?? 0);
  const { ids, count, length } = batch;
  const mask = new BigInt64Array(count * length);
  for (let row = 0; row < count; row++) {
    const start = row * length;
    let end = -1;
    for (let i = 0; i < length; i++) {
      if (ids[start + i] === eotId) {
        end = i;
        break;
      }
    }
    if (end < 0) {
      for (let i = length - 1; i >= 0; i--) {
        if (ids[start + i] !== padId) {
          end = i;
          break;
        }
      }
    }
    mask.fill(1n, start, start + end + 1);
  }
  return mask;
}
