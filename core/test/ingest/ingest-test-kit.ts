import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { createOnnxEmbedder } from '../../src/embedder/create-onnx-embedder';
import type { ImageInput } from '../../src/clip/image-input';
import type { Embedder, ImageEmbedding, TextEmbedding } from '../../src/embedder/embedder';
import { openEmbeddedVectorStore } from '../../src/vector-store/embedded/embedded-vector-store';
import type { VectorStore } from '../../src/vector-store/vector-store';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const TINY_CLIP_DIR = path.join(REPO_ROOT, 'fixtures/models/tiny-clip');
export const DEMO_PHOTOS_DIR = path.join(REPO_ROOT, 'demo/photos');

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

/** The real embedded store in `<dataDir>/store`. */
export function openStore(dataDir: string, embedder: Embedder): Promise<VectorStore> {
  return openEmbeddedVectorStore({
    dir: path.join(dataDir, 'store'),
    dim: embedder.info.dim,
    modelId: embedder.info.id,
  });
}

/** The demo photos' image files (name list). */
export function demoImageNames(): string[] {
  return fs
    .readdirSync(DEMO_PHOTOS_DIR)
    .filter((name) => /\.(png|jpe?g)$/i.test(name))
    .sort();
}

/** `count` small distinct PNGs (generated with sharp) in `dir`, spread over a few sub-folders. */
export async function writeGeneratedImages(dir: string, count: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `set${i % 4}`, `img-${String(i).padStart(4, '0')}.png`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await sharp({
      create: {
        width: 24 + (i % 7),
        height: 16 + (i % 5),
        channels: 3,
        background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 },
      },
    })
      .png()
      .toFile(file);
    files.push(file);
  }
  return files;
}

/**
 * The real embedder, counted, with a gate: while held, calls wait (and `blocked` resolves), so a
 * test can hold a job mid-way without depending on timing.
 */
export class GatedEmbedder implements Embedder {
  readonly info: Embedder['info'];
  calls = 0;
  images = 0;
  private gate: Promise<void> | undefined;
  private releaseGate: (() => void) | undefined;
  private onBlocked: (() => void) | undefined;
  private holdAfter = 0;

  constructor(private readonly inner: Embedder) {
    this.info = inner.info;
  }

  /**
   * Calls that start once `afterImages` images went through wait until `release()`; resolves when the
   * first of them arrives.
   */
  hold(afterImages = 0): Promise<void> {
    this.holdAfter = this.images + afterImages;
    this.gate = new Promise((resolve) => {
      this.releaseGate = resolve;
    });
    return new Promise((resolve) => {
      this.onBlocked = resolve;
    });
  }

  release(): void {
    this.gate = undefined;
    this.releaseGate?.();
  }

  async embedImages(images: readonly ImageInput[]): Promise<ImageEmbedding[]> {
    const before = this.images;
    this.calls += 1;
    this.images += images.length;
    if (this.gate !== undefined && before >= this.holdAfter) {
      this.onBlocked?.();
      await this.gate;
    }
    return this.inner.embedImages(images);
  }

  embedTexts(texts: readonly string[]): Promise<TextEmbedding[]> {
    return this.inner.embedTexts(texts);
  }

  isReady(): Promise<boolean> {
    return this.inner.isReady();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
