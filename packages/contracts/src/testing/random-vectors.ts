/**
 * Deterministic test and benchmark data: seeded, L2-normalized random vectors and an exact top-k to grade
 * approximate search against. Shared by the vector-store tests and the benchmarks so both grade the same way.
 */

/** mulberry32: tiny, fast and good enough to make reproducible data (not for anything secret). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` unit vectors of `dim` floats, packed row after row. Gaussian components (Box–Muller) make the
 * directions uniform on the sphere, the hardest case for an ANN index: real CLIP embeddings cluster.
 */
export function randomUnitVectors(count: number, dim: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(count * dim);
  for (let row = 0; row < count; row++) {
    const base = row * dim;
    let norm = 0;
    for (let i = 0; i < dim; i += 2) {
      const u = 1 - random();
      const v = random();
      const r = Math.sqrt(-2 * Math.log(u));
      const a = r * Math.cos(2 * Math.PI * v);
      out[base + i] = a;
      norm += a * a;
      if (i + 1 < dim) {
        const b = r * Math.sin(2 * Math.PI * v);
        out[base + i + 1] = b;
        norm += b * b;
      }
    }
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < dim; i++) out[base + i] = out[base + i]! * scale;
  }
  return out;
}

/**
 * Unit vectors with structure, closer to real CLIP embeddings than uniform ones: a random `rank`-dimensional
 * subspace of R^dim (the basis depends on `basisSeed` only, so items and queries drawn with different `seed`s
 * share it) plus isotropic noise, then normalized. Uniform vectors on S^511 have no neighbourhood structure
 * at all (every similarity is 0 ± 0.044), so recall measured on them grades noise, not the index.
 */
export function lowRankUnitVectors(
  count: number,
  dim: number,
  seed: number,
  options: { readonly rank?: number; readonly noise?: number; readonly basisSeed?: number } = {},
): Float32Array {
  const rank = options.rank ?? 16;
  const noise = options.noise ?? 0.05;
  const gaussian = gaussianSource(seededRandom(options.basisSeed ?? 7));
  const basis = new Float64Array(dim * rank);
  for (let i = 0; i < basis.length; i++) basis[i] = gaussian() / Math.sqrt(dim * rank);
  const next = gaussianSource(seededRandom(seed));
  const out = new Float32Array(count * dim);
  const z = new Float64Array(rank);
  for (let row = 0; row < count; row++) {
    for (let j = 0; j < rank; j++) z[j] = next();
    const base = row * dim;
    let norm = 0;
    for (let i = 0; i < dim; i++) {
      let x = noise * next();
      for (let j = 0; j < rank; j++) x += basis[i * rank + j]! * z[j]!;
      out[base + i] = x;
      norm += x * x;
    }
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < dim; i++) out[base + i] = out[base + i]! * scale;
  }
  return out;
}

function gaussianSource(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Row `row` of a packed matrix, as a view (no copy). */
export function rowOf(matrix: Float32Array, dim: number, row: number): Float32Array {
  return matrix.subarray(row * dim, (row + 1) * dim);
}

/** Indices of the `k` rows with the highest inner product with `query` (ties by lower index). Brute force. */
export function exactTopK(
  matrix: Float32Array,
  dim: number,
  query: Float32Array,
  k: number,
  accept?: (row: number) => boolean,
): number[] {
  const rows = matrix.length / dim;
  const best: { row: number; score: number }[] = [];
  for (let row = 0; row < rows; row++) {
    if (accept && !accept(row)) continue;
    const base = row * dim;
    let score = 0;
    for (let i = 0; i < dim; i++) score += matrix[base + i]! * query[i]!;
    if (best.length < k || score > best[best.length - 1]!.score) {
      let at = best.length;
      while (at > 0 && best[at - 1]!.score < score) at--;
      best.splice(at, 0, { row, score });
      if (best.length > k) best.pop();
    }
  }
  return best.map((b) => b.row);
}

/** Share of `truth` found in `found` (recall@k with k = truth.length). */
export function recall(
  found: readonly number[] | readonly string[],
  truth: readonly number[] | readonly string[],
): number {
  if (truth.length === 0) return 1;
  const set = new Set<number | string>(found);
  let hits = 0;
  for (const t of truth) if (set.has(t)) hits++;
  return hits / truth.length;
}

/** The p-quantile (0..1) of samples, by nearest rank. */
export function quantile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[at] ?? Number.NaN;
}
