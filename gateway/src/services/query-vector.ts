import { ValidationFailedError, ZeroQueryError } from '../http/http-errors';

/** One term's embedding and how much it counts; `field` names it in errors (`query[2].vector`). */
export interface WeightedVector {
  /** An embedding, or a client's raw vector in float64 (any magnitude JSON can write). */
  readonly vector: Float32Array | readonly number[];
  readonly weight: number;
  readonly field: string;
}

/**
 * Below this norm the weighted sum has no usable direction. The summands are unit vectors and weights
 * are scaled to at most 1, so anything this small is cancellation, not a legitimate query.
 */
const ZERO_NORM = 1e-6;

/**
 * The vector divided by its norm, computed without overflow or underflow: every value is first divided by
 * the largest magnitude, so 1e300 and 1e-300 components are as usable as 0.1 ones. Undefined for a zero
 * vector; a ValidationFailedError for a non-finite value.
 */
function unit(term: WeightedVector): Float64Array | undefined {
  let largest = 0;
  for (const value of term.vector) largest = Math.max(largest, Math.abs(value));
  if (!Number.isFinite(largest))
    throw new ValidationFailedError([{ field: term.field, message: 'must contain finite numbers only' }]);
  if (largest === 0) return undefined;
  const scaled = Float64Array.from(term.vector, (value) => value / largest);
  let sum = 0;
  for (const value of scaled) sum += value * value;
  const length = Math.sqrt(sum);
  return scaled.map((value) => value / length);
}

/**
 * The query vector of a weighted multi-term query: Σ wᵢ·(eᵢ/‖eᵢ‖), then L2-normalized. Each term is
 * normalized first so that a weight means the same for a text, an image or a raw vector, and a negative
 * weight steers away from a concept ("beach" − 0.5·"people"). Weights are divided by the largest of them
 * (the result is normalized anyway), so no weight JSON can write overflows the sum. Accumulates in
 * float64 so that many terms do not lose precision.
 */
export function combineWeighted(terms: readonly WeightedVector[], dim: number): Float32Array {
  if (terms.length === 0) throw new ZeroQueryError('The query has no terms');
  let heaviest = 0;
  for (const term of terms) {
    if (!Number.isFinite(term.weight))
      throw new ValidationFailedError([{ field: term.field, message: 'weight must be a finite number' }]);
    heaviest = Math.max(heaviest, Math.abs(term.weight));
  }
  if (heaviest === 0) throw new ZeroQueryError('Every term has weight 0: there is no direction to search in');
  const sum = new Float64Array(dim);
  for (const term of terms) {
    if (term.vector.length !== dim)
      throw new ValidationFailedError([
        {
          field: term.field,
          message: `has ${term.vector.length} dimensions; the model's embeddings have ${dim}`,
        },
      ]);
    const direction = unit(term);
    if (direction === undefined)
      throw new ValidationFailedError([
        { field: term.field, message: 'is a zero vector: it has no direction' },
      ]);
    const weight = term.weight / heaviest;
    direction.forEach((value, i) => {
      sum[i] = (sum[i] ?? 0) + weight * value;
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
