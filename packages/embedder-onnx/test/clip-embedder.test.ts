import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ClipTokenizer } from '@clip-search/clip';
import { ImagePreprocessor } from '@clip-search/clip';
import { ClipEmbedder } from '@clip-search/clip';
import { createOnnxEmbedder } from '../src/create-onnx-embedder';
import type { ImageEmbedding } from '@clip-search/contracts';
import type { EmbedderConfig } from '@clip-search/contracts';
import type { InferenceBackend, PixelBatch, TokenBatch } from '@clip-search/contracts';
import { l2NormalizedRow } from '@clip-search/clip';
import { OnnxInferenceBackend } from '../src/onnx-inference-backend';
import { BackendUnavailableError, InvalidImageError } from '@clip-search/contracts';
import type { ResolvedModel } from '@clip-search/contracts';
import {
  cosine,
  DEMO_PHOTOS_DIR,
  golden,
  GOLDEN_DIR,
  idBatch,
  maxAbsDiff,
  normalize,
  row,
  TINY_CLIP_DIR,
  tinyClip,
  tokenizerGolden,
} from '@clip-search/clip/testing';
import { flatGreyPng } from '@clip-search/contracts/testing';

const config: EmbedderConfig = {
  modelDir: TINY_CLIP_DIR,
  modelName: 'unused',
  modelCacheDir: os.tmpdir(),
  threads: 0,
  maxBatchSize: 8,
  maxWaitMs: 5,
  maxImagePixels: 100_000_000,
};

/**
 * The golden 224×224 PNG of a photo: cheap to decode, and it embeds like the photo (it is the photo's
 * reference preprocessing), so tests about batching and routing do not spend their time resizing.
 */
function smallImage(g: { pixels: string }): { path: string } {
  return { path: path.join(GOLDEN_DIR, 'pixels', `${path.basename(g.pixels, '.f32')}.png`) };
}

// Decoding and resizing full photos on a shared 2-core machine takes a while.
jest.setTimeout(180_000);

function norm(v: Float32Array): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

function expectOk(result: ImageEmbedding | undefined): Extract<ImageEmbedding, { ok: true }> {
  if (result?.ok !== true) throw new Error(`expected an embedding, got ${JSON.stringify(result)}`);
  return result;
}

describe('createOnnxEmbedder on tiny-clip, end to end', () => {
  let embedder: ClipEmbedder;
  let model: ResolvedModel;

  beforeAll(async () => {
    ({ embedder, model } = await createOnnxEmbedder(config));
  });
  afterAll(async () => {
    await embedder.close();
  });

  test('describes its model', async () => {
    expect(embedder.info).toEqual({ id: 'tiny-clip', dim: 512, imageSize: 224, contextLength: 77 });
    expect(model.dir).toBe(TINY_CLIP_DIR);
    expect(embedder.backend.kind).toBe('onnx');
    expect(await embedder.isReady()).toBe(true);
  });

  test('demo photos (paths and bytes) embed to the golden image embeddings (cosine ≥ 0.999), unit length', async () => {
    const inputs = await Promise.all(
      golden.images.map(async (g, i) => {
        const file = path.join(DEMO_PHOTOS_DIR, g.image);
        return i % 2 === 0 ? { path: file } : new Uint8Array(await readFile(file));
      }),
    );
    const results = await embedder.embedImages(inputs);
    expect(results).toHaveLength(golden.images.length);
    for (const [i, g] of golden.images.entries()) {
      const r = expectOk(results[i]);
      expect({ image: g.image, cos: cosine(r.embedding, g.image_embeds) >= 0.999 }).toEqual({
        image: g.image,
        cos: true,
      });
      expect(norm(r.embedding)).toBeCloseTo(1, 5);
      const meta = await sharp(path.join(DEMO_PHOTOS_DIR, g.image)).metadata();
      expect([r.width, r.height]).toEqual([meta.autoOrient.width, meta.autoOrient.height]);
    }
  });

  test('golden strings embed to the golden text embeddings (cosine ≥ 0.999), truncation reported', async () => {
    const results = await embedder.embedTexts(golden.texts.map((t) => t.text));
    golden.texts.forEach((g, i) => {
      const r = results[i]!;
      expect({ text: g.text, cos: cosine(r.embedding, g.text_embeds) >= 0.999 }).toEqual({
        text: g.text,
        cos: true,
      });
      expect(r.truncated).toBe(tokenizerGolden.cases[i]!.truncated);
      expect(norm(r.embedding)).toBeCloseTo(1, 5);
    });
    expect(results.some((r) => r.truncated)).toBe(true);
  });

  test('trimmed text batches equal the same texts padded to 77 (≤ 1e-5)', async () => {
    const cases = tokenizerGolden.cases.slice(0, 12);
    const trimmed = await embedder.embedTexts(cases.map((c) => c.text)); // cut to the batch's longest
    const padded = await embedder.backend.runText(idBatch(cases, 77));
    cases.forEach((_, i) => {
      expect(maxAbsDiff(trimmed[i]!.embedding, normalize(row(padded, i, 512)))).toBeLessThanOrEqual(1e-5);
    });
  });

  test('a corrupt image in a batch of good ones fails only its own slot', async () => {
    const good = golden.images.slice(0, 3);
    const results = await embedder.embedImages([
      smallImage(good[0]!),
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]), // a PNG that stops short
      smallImage(good[1]!),
      { path: path.join(DEMO_PHOTOS_DIR, 'no-such-photo.jpg') },
      smallImage(good[2]!),
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true, false, true]);
    expect((results[1] as { error: unknown }).error).toBeInstanceOf(InvalidImageError);
    expect((results[3] as { error: unknown }).error).toBeInstanceOf(InvalidImageError);
    [0, 2, 4].forEach((slot, k) => {
      expect(cosine(expectOk(results[slot]).embedding, good[k]!.image_embeds)).toBeGreaterThanOrEqual(0.999);
    });
  });

  test('empty calls return empty arrays', async () => {
    await expect(embedder.embedImages([])).resolves.toEqual([]);
    await expect(embedder.embedTexts([])).resolves.toEqual([]);
  });
});

/** A thin wrapper around the REAL OnnxInferenceBackend that records each call's batch size. */
class RecordingBackend implements InferenceBackend {
  readonly kind = 'onnx';
  readonly visionCalls: number[] = [];
  readonly textCalls: number[] = [];
  constructor(private readonly inner: OnnxInferenceBackend) {}
  get maxBatchSize(): number {
    return this.inner.maxBatchSize;
  }
  runVision(batch: PixelBatch): Promise<Float32Array> {
    this.visionCalls.push(batch.count);
    return this.inner.runVision(batch);
  }
  runText(batch: TokenBatch): Promise<Float32Array> {
    this.textCalls.push(batch.count);
    return this.inner.runText(batch);
  }
  isReady(): Promise<boolean> {
    return this.inner.isReady();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('micro-batching through the real ONNX Runtime backend', () => {
  let backend: RecordingBackend;
  let embedder: ClipEmbedder;

  beforeAll(async () => {
    const model = await tinyClip();
    backend = new RecordingBackend(await OnnxInferenceBackend.load(model, { threads: 0, maxBatchSize: 64 }));
    const { manifest } = model;
    embedder = new ClipEmbedder({
      backend,
      tokenizer: await ClipTokenizer.fromBpeFile(model.bpePath, manifest.text.contextLength),
      preprocessor: new ImagePreprocessor({ ...manifest.image, maxPixels: 100_000_000 }),
      manifest,
      maxBatchSize: 4,
      maxWaitMs: 50,
    });
  });
  afterAll(async () => {
    await embedder.close();
  });
  beforeEach(() => {
    backend.visionCalls.length = 0;
    backend.textCalls.length = 0;
  });

  test('concurrent text callers share model calls of at most maxBatchSize; each gets its own result', async () => {
    const texts = golden.texts.slice(0, 10);
    const results = await Promise.all(texts.map((t) => embedder.embedTexts([t.text])));
    expect(backend.textCalls).toEqual([4, 4, 2]);
    results.forEach((r, i) => {
      expect(r).toHaveLength(1);
      expect(cosine(r[0]!.embedding, texts[i]!.text_embeds)).toBeGreaterThanOrEqual(0.999);
    });
  });

  test('concurrent image callers share model calls; results are routed to the right caller', async () => {
    const images = golden.images.slice(0, 6);
    const results = await Promise.all(images.map((g) => embedder.embedImages([smallImage(g)])));
    expect(backend.visionCalls.length).toBeLessThan(images.length);
    expect(Math.max(...backend.visionCalls)).toBeLessThanOrEqual(4);
    expect(backend.visionCalls.reduce((a, b) => a + b, 0)).toBe(images.length);
    results.forEach((r, i) => {
      expect(cosine(expectOk(r[0]).embedding, images[i]!.image_embeds)).toBeGreaterThanOrEqual(0.999);
    });
  });

  test('one call with more images than maxBatchSize is split, and every image is embedded once', async () => {
    const images = golden.images.slice(0, 10);
    const results = await embedder.embedImages(images.map(smallImage));
    expect(Math.max(...backend.visionCalls)).toBeLessThanOrEqual(4);
    expect(backend.visionCalls.reduce((a, b) => a + b, 0)).toBe(10);
    results.forEach((r, i) => {
      expect(cosine(expectOk(r).embedding, images[i]!.image_embeds)).toBeGreaterThanOrEqual(0.999);
    });
  });
});

/** The REAL preprocessor, counting the images it was asked to decode. */
class CountingPreprocessor extends ImagePreprocessor {
  calls = 0;
  override preprocess(...args: Parameters<ImagePreprocessor['preprocess']>) {
    this.calls++;
    return super.preprocess(...args);
  }
}

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('decode slots: shared fairly between clients, freed by an abort', () => {
  let embedder: ClipEmbedder;
  let preprocessor: CountingPreprocessor;
  /** Decodes for a second (libvips stops it at the 1 s time limit): a slow image that passes the limits. */
  let slow: Buffer;

  beforeAll(async () => {
    const model = await tinyClip();
    const { manifest } = model;
    preprocessor = new CountingPreprocessor({
      ...manifest.image,
      maxPixels: 100_000_000,
      maxSide: 100_000_000,
      maxAspectRatio: 100_000_000,
      decodeTimeoutMs: 1000,
    });
    embedder = new ClipEmbedder({
      backend: await OnnxInferenceBackend.load(model, { threads: 1, maxBatchSize: 8 }),
      tokenizer: await ClipTokenizer.fromBpeFile(model.bpePath, manifest.text.contextLength),
      preprocessor,
      manifest,
      maxBatchSize: 1,
      maxWaitMs: 0,
      preprocessConcurrency: 1,
      maxPendingImages: 16,
    });
    slow = await flatGreyPng(1, 20_000_000);
  });
  afterAll(async () => {
    await embedder.close();
  });

  test("one client's many queued images do not delay another client's single image", async () => {
    const image = smallImage(golden.images[0]!);
    const done: string[] = [];
    const greedy = Array.from({ length: 6 }, (_, i) =>
      embedder.embedImages([image], { client: 'greedy' }).then(() => done.push(`greedy ${i}`)),
    );
    const polite = embedder.embedImages([image], { client: 'polite' }).then(() => done.push('polite'));
    await Promise.all([...greedy, polite]);
    // One decode slot: greedy's first image takes it, then the slot goes to the client holding none.
    // In arrival order (first come, first served) it would be last.
    expect(done.indexOf('polite')).toBeLessThanOrEqual(1);
  });

  test("an aborted call's waiting images leave the queue at once; its running decode ends at the limit", async () => {
    preprocessor.calls = 0;
    const controller = new AbortController();
    const call = embedder.embedImages([slow, slow, slow, slow, slow], {
      client: 'leaver',
      signal: controller.signal,
    });
    await until(() => embedder.decodeQueue.decoding === 1 && embedder.decodeQueue.waiting === 4);
    const reason = new Error('the client went away');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(embedder.decodeQueue.waiting).toBe(0);
    // Another client is served as soon as the running decode stops (the image it was decoding is
    // bounded by the time limit), not after four more slow images.
    const [next] = await embedder.embedImages([smallImage(golden.images[1]!)], { client: 'next' });
    expect(next?.ok).toBe(true);
    expect(preprocessor.calls).toBe(2);
  });
});

describe('closing', () => {
  test('a closed embedder refuses work and is not ready', async () => {
    const { embedder } = await createOnnxEmbedder(config);
    await embedder.close();
    expect(await embedder.isReady()).toBe(false);
    await expect(embedder.embedTexts(['a dog'])).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(embedder.embedImages([new Uint8Array(4)])).rejects.toBeInstanceOf(BackendUnavailableError);
    await embedder.close(); // idempotent
  });
});

describe('l2NormalizedRow', () => {
  test('scales a row to unit length', () => {
    const m = Float32Array.from([3, 4, 0, 0, 6, 8]);
    expect(Array.from(l2NormalizedRow(m, 0, 3))).toEqual([0.6000000238418579, 0.800000011920929, 0]);
    expect(Array.from(m)).toEqual([3, 4, 0, 0, 6, 8]); // the input is left alone
  });

  test('a zero or non-finite row stays zero instead of becoming NaN', () => {
    expect(Array.from(l2NormalizedRow(new Float32Array(4), 0, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(l2NormalizedRow(Float32Array.from([NaN, 1]), 0, 2))).toEqual([0, 0]);
  });
});
