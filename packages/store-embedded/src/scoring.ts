/**
 * Scores and their order. Exact scoring serves the candidates a selective filter leaves (or a small store):
 * a brute-force inner product, cheaper and exact where an ANN index would have to be searched very deep.
 */
export interface Scored<T> {
  readonly score: number;
  readonly id: string;
  readonly value: T;
}

export function innerProduct(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

/** Best first; equal scores in id order, so every page of a result list cuts it at the same place. */
export function byScoreThenId(a: Scored<unknown>, b: Scored<unknown>): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
