import { ValidationFailedError, ZeroQueryError } from '../http/http-errors';

/** One term's embedding and how much it counts; `field` names it in errors (`query[2].vector`). */
export interface WeightedVector {
  readonly vector: Float32Array;
  readonly weight: number;
  readonly field: string;
}

/**
 * Below this norm the weighted sum has no usable direction. The summands are unit vectors and weights
 * are at most a few units, so anything this small is cancellation, not a legitimate query.
 */
const ZERO_NORM = 1e-6;

function norm(vector: Float32Array): number {
  let sum = 0;
  for (const value of vector) sum += value * value;
  return Math.sqrt(sum);
}

/**
 * The query vector of a weighted multi-term query: Σ wᵢ·(eᵢ/‖eᵢ‖), then L2-normalized. Each term is
 * normalized first so that a weight means the same for a text, an image or a raw vector, and a negative
 * weight steers away from a concept ("beach" − 0.5·"people"). Accumulates in float64 so that many terms
 * do not lose precision.
 */
export function combineWeighted(terms: readonly WeightedVector[], dim: number): Float32Array {
  if (terms.length === 0) throw new ZeroQueryError('The query has no terms');
  const sum = new Float64Array(dim);
  for (const term of terms) {
    if (term.vector.length !== dim)
      throw new ValidationFailedError([
        {
          field: term.field,
          message: `has ${term.vector.length} dimensions; the model's embeddings have ${dim}`,
        },
      ]);
    const length = norm(term.vector);
    if (!Number.isFinite(length) || !Number.isFinite(term.weight))
      throw new ValidationFailedError([{ field: term.field, message: 'must contain finite numbers only' }]);
    if (length < ZERO_NORM)
      throw new ValidationFailedError([
        { field: term.field, message: 'is a zero vector: it has no direction' },
      ]);
    const scale = term.weight / length;
    term.vector.forEach((value, i) => {
      sum[i] = (sum[i] ?? 0) + scale * value;
    });
  }
  let total = 0;
  for (const value of sum) total += value * value;
  const length = Math.sqrt(total);
  if (length < ZERO_NORM)
    throw new ZeroQueryError(
      'The weighted terms cancel out (their weighted sum is the zero vector); change the weights or terms',
    );
  return Float32Array.from(sum, (value) => value / length);
}
