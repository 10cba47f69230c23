import fs from 'node:fs';
import path from 'node:path';
import { flatGreyPng } from '@clip-search/contracts/testing';
import type { ImageInput } from '@clip-search/contracts';
import type { Embedder, ImageEmbedding, TextEmbedding } from '@clip-search/contracts';

// src/testing/ and dist/testing/ are as deep: the repository's root is four folders up from either.
export const REPO_ROOT = path.resolve(__dirname, '../../../..');
export const DEMO_PHOTOS_DIR = path.join(REPO_ROOT, 'demo/photos');

/** The demo photos' image files (name list). */
export function demoImageNames(): string[] {
  return fs
    .readdirSync(DEMO_PHOTOS_DIR)
    .filter((name) => /\.(png|jpe?g)$/i.test(name))
    .sort();
}

/** `count` small distinct PNGs (distinct sizes and greys; up to 256 of them) in `dir`, spread over a few sub-folders. */
export async function writeGeneratedImages(dir: string, count: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `set${i % 4}`, `img-${String(i).padStart(4, '0')}.png`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, await flatGreyPng(24 + (i % 7), 16 + (i % 5), (i * 37) % 256));
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
