import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { ResolvedModel } from '@clip-search/contracts';
import { resolveModelDir } from '../model/model-resolver';

// src/testing/ and dist/testing/ are as deep: the repository's root is four folders up from either.
export const REPO_ROOT = path.resolve(__dirname, '../../../..');
export const TINY_CLIP_DIR = path.join(REPO_ROOT, 'fixtures/models/tiny-clip');
export const GOLDEN_DIR = path.join(REPO_ROOT, 'fixtures/golden');
export const DEMO_PHOTOS_DIR = path.join(REPO_ROOT, 'demo/photos');
/** The read-only reference material, when it sits beside the repository (not on a user's clone). */
export const SHARED_DIR = path.resolve(REPO_ROOT, '../shared');

export interface GoldenImage {
  readonly image: string;
  readonly pixels: string;
  readonly image_embeds: number[];
}
export interface GoldenText {
  readonly text: string;
  readonly text_embeds: number[];
}
export interface TokenizerCase {
  readonly text: string;
  readonly ids: number[];
  readonly truncated: boolean;
}

export const golden = JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'tiny-clip-golden.json'), 'utf8')) as {
  images: GoldenImage[];
  texts: GoldenText[];
};
export const tokenizerGolden = JSON.parse(
  readFileSync(path.join(GOLDEN_DIR, 'tokenizer-golden.json'), 'utf8'),
) as { cases: TokenizerCase[] };

export function tinyClip(): Promise<ResolvedModel> {
  return resolveModelDir(TINY_CLIP_DIR);
}

const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];

/**
 * The reference float tensor of a golden image: fixtures/golden/pixels/<name>.png holds the u8 image
 * the reference normalized, so pixels = (u8/255 − mean)/std, CHW (see fixtures/README.md).
 */
export async function goldenPixels(entry: GoldenImage): Promise<Float32Array> {
  const png = path.join(GOLDEN_DIR, 'pixels', `${path.basename(entry.pixels, '.f32')}.png`);
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const plane = info.width * info.height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      out[c * plane + i] = ((data[i * 3 + c] as number) / 255 - (MEAN[c] as number)) / (STD[c] as number);
    }
  }
  return out;
}

/** The reference `.f32` tensor from ../shared, or undefined when ../shared is not there. */
export function sharedPixels(entry: GoldenImage): Float32Array | undefined {
  const file = path.join(SHARED_DIR, 'fixtures', entry.pixels);
  if (!existsSync(file)) return undefined;
  const bytes = readFileSync(file);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

export function normalize(v: ArrayLike<number>): Float64Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += (v[i] as number) ** 2;
  const norm = Math.sqrt(sum);
  return Float64Array.from({ length: v.length }, (_, i) => (v[i] as number) / norm);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const na = normalize(a);
  const nb = normalize(b);
  let dot = 0;
  for (let i = 0; i < na.length; i++) dot += (na[i] as number) * (nb[i] as number);
  return dot;
}

export function row(matrix: Float32Array, i: number, dim: number): Float32Array {
  return matrix.subarray(i * dim, (i + 1) * dim);
}

/** Token ids as the int64 batch a backend takes, cut or padded to `length`. */
export function idBatch(cases: readonly { ids: readonly number[] }[], length: number) {
  const ids = new BigInt64Array(cases.length * length);
  cases.forEach((c, r) => {
    for (let i = 0; i < length; i++) ids[r * length + i] = BigInt(c.ids[i] ?? 0);
  });
  return { ids, count: cases.length, length };
}

/** Real tokens of a golden case: up to and including the end-of-text id. */
export function realLength(ids: readonly number[]): number {
  return ids.indexOf(49407) + 1;
}
