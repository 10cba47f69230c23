import path from 'node:path';
import type { Embedder } from '@clip-search/contracts';
import { createOnnxEmbedder } from '../create-onnx-embedder';

// src/testing/ and dist/testing/ are as deep: the repository's root is four folders up from either.
const REPO_ROOT = path.resolve(__dirname, '../../../..');
/** The tiny random-weight CLIP the tests run (fixtures/models/tiny-clip; see fixtures/README.md). */
export const TINY_CLIP_DIR = path.join(REPO_ROOT, 'fixtures/models/tiny-clip');

/** The real ONNX embedder on the tiny random-weight CLIP (fast; embeddings mean nothing). */
export async function openTinyEmbedder(): Promise<Embedder> {
  const { embedder } = await createOnnxEmbedder({
    modelDir: TINY_CLIP_DIR,
    modelName: 'tiny-clip',
    modelCacheDir: path.join(REPO_ROOT, 'fixtures/models'),
    threads: 0,
    maxBatchSize: 8,
    maxWaitMs: 2,
    maxImagePixels: 100_000_000,
  });
  return embedder;
}
