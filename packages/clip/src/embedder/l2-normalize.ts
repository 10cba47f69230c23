/**
 * Row `row` of a row-major `count × dim` matrix, scaled to unit L2 norm, as a new array. A zero (or
 * non-finite) row stays all zeros rather than becoming NaN: a NaN vector would poison a vector index,
 * while a zero vector merely matches nothing.
 */
export function l2NormalizedRow(matrix: Float32Array, row: number, dim: number): Float32Array {
  const out = matrix.slice(row * dim, (row + 1) * dim);
  let sum = 0;
  for (const v of out) sum += v * v;
  const norm = Math.sqrt(sum);
  if (!(norm > 0) || !Number.isFinite(norm)) return out.fill(0);
  for (let i = 0; i < dim; i++) out[i] = (out[i] as number) / norm;
  return out;
}
