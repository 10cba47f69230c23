/**
 * The conformance suite every InferenceBackend passes: the same embeddings as ONNX Runtime run in-process
 * on the same model (to 1e-5), batching, concurrency, input errors, readiness, closing, and (when the
 * test owns the server) recovery after the server restarts. Also run through ClipEmbedder, so that the
 * whole path (decode, preprocess, tokenize, micro-batch, normalize) agrees across backends.
 *
 * `embedderConformance(subject)` declares a Jest `describe` block; `skip` turns it into `describe.skip`
 * (Jest then lists it as skipped, e.g. the real-Triton run without TRITON_URL).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer';
import { ImagePreprocessor } from '../image/image-preprocessor';
import { ClipEmbedder } from '../embedder/clip-embedder';
import type { InferenceBackend, TokenBatch } from '@clip-search/contracts';
import { BackendUnavailableError, InvalidImageError, InvalidInputError } from '@clip-search/contracts';
import type { ResolvedModel } from '@clip-search/contracts';
import {
  DEMO_PHOTOS_DIR,
  golden,
  goldenPixels,
  idBatch,
  maxAbsDiff,
  realLength,
  row,
  tokenizerGolden,
} from './golden-fixtures';

/** Raw (unnormalized) embeddings must agree to this, element by element. */
export const TOLERANCE = 1e-5;

export interface ConformanceSubject {
  /** Shown in the describe title: `onnx (in-process)`, `triton (fixture server)`... */
  readonly label: string;
  /** The model both the subject and the reference run. */
  model(): Promise<ResolvedModel>;
  /**
   * The reference the subject must agree with: ONNX Runtime in-process on the same model (the suite
   * cannot import that adapter itself: it depends on this package). Called with the batch cap it needs.
   */
  reference(model: ResolvedModel, maxBatchSize: number): Promise<InferenceBackend>;
  /** A fresh backend under test (called more than once: some tests close theirs). */
  connect(): Promise<InferenceBackend>;
  /** The server's max_batch_size, when there is one: batches above it must be split. */
  readonly serverMaxBatchSize?: number;
  /** Batch sizes the server ran so far, when the test can see them. */
  observedBatchSizes?(): number[];
  /** Control over the server, when the test owns it: enables the recovery test. */
  readonly server?: { stop(): Promise<void>; restart(): Promise<void> };
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

const DIM_OF = (model: ResolvedModel) => model.manifest.dim;

/** Runs `rows` through `backend` in calls of at most its maxBatchSize (the port's rule for callers). */
async function runAll<T extends { count: number }>(
  backend: InferenceBackend,
  batch: T,
  slice: (start: number, count: number) => T,
  run: (b: T) => Promise<Float32Array>,
  dim: number,
): Promise<Float32Array> {
  const out = new Float32Array(batch.count * dim);
  for (let start = 0; start < batch.count; start += backend.maxBatchSize) {
    const count = Math.min(backend.maxBatchSize, batch.count - start);
    out.set(await run(slice(start, count)), start * dim);
  }
  return out;
}

function tokenSlice(batch: TokenBatch) {
  return (start: number, count: number): TokenBatch => ({
    ids: batch.ids.subarray(start * batch.length, (start + count) * batch.length),
    count,
    length: batch.length,
  });
}

export function embedderConformance(subject: ConformanceSubject, options: { skip?: boolean } = {}): void {
  const block = options.skip ? describe.skip : describe;
  block(`InferenceBackend conformance: ${subject.label}`, () => {
    let model: ResolvedModel;
    let backend: InferenceBackend;
    let reference: InferenceBackend;
    let dim: number;
    let size: number;
    let pixels: Float32Array;
    let imageCount: number;
    let tokens: TokenBatch;

    beforeAll(async () => {
      await subject.setup?.();
      model = await subject.model();
      dim = DIM_OF(model);
      size = model.manifest.image.size;
      reference = await subject.reference(model, 256);
      backend = await subject.connect();
      const images = await Promise.all(golden.images.map(goldenPixels));
      imageCount = images.length;
      pixels = new Float32Array(imageCount * 3 * size * size);
      images.forEach((p, i) => {
        pixels.set(p, i * p.length);
      });
      const cases = tokenizerGolden.cases;
      tokens = idBatch(cases, Math.max(...cases.map((c) => realLength(c.ids))));
    });

    afterAll(async () => {
      // Undefined when beforeAll failed half-way.
      await (backend as InferenceBackend | undefined)?.close();
      await (reference as InferenceBackend | undefined)?.close();
      await subject.teardown?.();
    });

    const visionSlice = (start: number, count: number) => ({
      data: pixels.subarray(start * 3 * size * size, (start + count) * 3 * size * size),
      count,
      size,
    });

    test('is ready and describes itself', async () => {
      expect(await backend.isReady()).toBe(true);
      expect(typeof backend.kind).toBe('string');
      expect(backend.kind.length).toBeGreaterThan(0);
      expect(Number.isInteger(backend.maxBatchSize) && backend.maxBatchSize >= 1).toBe(true);
    });

    test('vision: the golden pixels give in-process ONNX Runtime’s embeddings', async () => {
      const batch = visionSlice(0, imageCount);
      const out = await runAll(backend, batch, visionSlice, (b) => backend.runVision(b), dim);
      const want = await reference.runVision(batch);
      expect(out).toHaveLength(imageCount * dim);
      expect(maxAbsDiff(out, want)).toBeLessThanOrEqual(TOLERANCE);
    });

    test('text: the golden token ids give in-process ONNX Runtime’s embeddings', async () => {
      const out = await runAll(backend, tokens, tokenSlice(tokens), (b) => backend.runText(b), dim);
      const want = await reference.runText(tokens);
      expect(out).toHaveLength(tokens.count * dim);
      expect(maxAbsDiff(out, want)).toBeLessThanOrEqual(TOLERANCE);
    });

    test('a batch above the server’s max_batch_size is split, rows in order', async () => {
      const count = Math.min(backend.maxBatchSize, 2 * (subject.serverMaxBatchSize ?? 4) + 1, tokens.count);
      const before = subject.observedBatchSizes?.().length ?? 0;
      const batch = tokenSlice(tokens)(0, count);
      const together = await backend.runText(batch);
      for (let i = 0; i < count; i++) {
        const alone = await backend.runText(tokenSlice(tokens)(i, 1));
        expect({ row: i, diff: maxAbsDiff(row(together, i, dim), alone) <= TOLERANCE }).toEqual({
          row: i,
          diff: true,
        });
      }
      const observed = subject.observedBatchSizes?.().slice(before);
      if (observed && subject.serverMaxBatchSize !== undefined) {
        expect(Math.max(...observed)).toBeLessThanOrEqual(subject.serverMaxBatchSize);
        expect(count).toBeGreaterThan(subject.serverMaxBatchSize);
      }
    });

    test('concurrent calls each get their own rows', async () => {
      const textCalls = Array.from({ length: 8 }, (_, i) => tokenSlice(tokens)(i * 3, 2));
      const imageCalls = Array.from({ length: 4 }, (_, i) => visionSlice(i * 2, 3));
      const [texts, images] = await Promise.all([
        Promise.all(textCalls.map((b) => backend.runText(b))),
        Promise.all(imageCalls.map((b) => backend.runVision(b))),
      ]);
      for (const [i, b] of textCalls.entries()) {
        expect(maxAbsDiff(texts[i]!, await reference.runText(b))).toBeLessThanOrEqual(TOLERANCE);
      }
      for (const [i, b] of imageCalls.entries()) {
        expect(maxAbsDiff(images[i]!, await reference.runVision(b))).toBeLessThanOrEqual(TOLERANCE);
      }
    });

    test('bad batches are refused with InvalidInputError, before anything is sent', async () => {
      const one = 3 * size * size;
      const bad: [string, () => Promise<unknown>][] = [
        ['too few floats', () => backend.runVision({ data: new Float32Array(one - 1), count: 1, size })],
        [
          'wrong image size',
          () => backend.runVision({ data: new Float32Array(3 * 8 * 8), count: 1, size: 8 }),
        ],
        ['zero images', () => backend.runVision({ data: new Float32Array(0), count: 0, size })],
        ['zero texts', () => backend.runText({ ids: new BigInt64Array(0), count: 0, length: 1 })],
        [
          'longer than the context',
          () => {
            const length = model.manifest.text.contextLength + 1;
            return backend.runText({ ids: new BigInt64Array(length), count: 1, length });
          },
        ],
        ['ids ≠ count × length', () => backend.runText({ ids: new BigInt64Array(5), count: 2, length: 3 })],
      ];
      for (const [what, call] of bad) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect({ what, error: error instanceof InvalidInputError }).toEqual({ what, error: true });
      }
      expect(await backend.isReady()).toBe(true);
    });

    test('through ClipEmbedder: images and texts give in-process ONNX Runtime’s embeddings', async () => {
      const tokenizer = await ClipTokenizer.fromBpeFile(model.bpePath, model.manifest.text.contextLength);
      const preprocessor = new ImagePreprocessor({
        size,
        mean: model.manifest.image.mean,
        std: model.manifest.image.std,
        maxPixels: 50_000_000,
      });
      const make = (b: InferenceBackend) =>
        new ClipEmbedder({
          backend: b,
          tokenizer,
          preprocessor,
          manifest: model.manifest,
          maxBatchSize: 8,
          maxWaitMs: 2,
        });
      const subjectEmbedder = make(await subject.connect());
      const referenceEmbedder = make(await subject.reference(model, 64));
      try {
        // Two small photos: decoding is the slow part under Jest, and every backend shares it anyway.
        const photos = ['chelsea.png', 'page.png'].map((f) => readFileSync(path.join(DEMO_PHOTOS_DIR, f)));
        const inputs = [...photos, Buffer.from('not an image')];
        const texts = ['a photo of a cat', 'an astronaut', 'a cup of coffee', 'ROCKET launch!', ''];
        const [got, want, gotText, wantText] = await Promise.all([
          subjectEmbedder.embedImages(inputs),
          referenceEmbedder.embedImages(inputs),
          subjectEmbedder.embedTexts(texts),
          referenceEmbedder.embedTexts(texts),
        ]);
        got.forEach((g, i) => {
          const w = want[i]!;
          if (i === inputs.length - 1) {
            expect(g.ok ? undefined : g.error).toBeInstanceOf(InvalidImageError);
            return;
          }
          expect(g.ok && w.ok).toBe(true);
          if (g.ok && w.ok) expect(maxAbsDiff(g.embedding, w.embedding)).toBeLessThanOrEqual(TOLERANCE);
        });
        gotText.forEach((g, i) => {
          expect(maxAbsDiff(g.embedding, wantText[i]!.embedding)).toBeLessThanOrEqual(TOLERANCE);
        });
        expect(await subjectEmbedder.isReady()).toBe(true);
      } finally {
        await subjectEmbedder.close();
        await referenceEmbedder.close();
      }
    });

    test('after close: not ready, and calls fail with BackendUnavailableError', async () => {
      const own = await subject.connect();
      await own.close();
      expect(await own.isReady()).toBe(false);
      await expect(own.runText(tokenSlice(tokens)(0, 1))).rejects.toBeInstanceOf(BackendUnavailableError);
      await expect(own.runVision(visionSlice(0, 1))).rejects.toBeInstanceOf(BackendUnavailableError);
      await own.close(); // twice is fine
    });

    const recovery = subject.server ? test : test.skip;
    recovery(
      'server down: not ready and calls fail fast with BackendUnavailableError; recovers by itself when it returns',
      async () => {
        const server = subject.server!;
        const batch = tokenSlice(tokens)(0, 3);
        const want = await reference.runText(batch);
        await server.stop();
        try {
          expect(await backend.isReady()).toBe(false);
          await expect(backend.runText(batch)).rejects.toBeInstanceOf(BackendUnavailableError);
          await expect(backend.runVision(visionSlice(0, 1))).rejects.toBeInstanceOf(BackendUnavailableError);
        } finally {
          await server.restart();
        }
        // Bounded wait for the channel's reconnect (its backoff is capped at a couple of seconds).
        let ready = false;
        for (let i = 0; i < 100 && !ready; i++) {
          ready = await backend.isReady();
          if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(ready).toBe(true);
        expect(maxAbsDiff(await backend.runText(batch), want)).toBeLessThanOrEqual(TOLERANCE);
      },
    );
  });
}
