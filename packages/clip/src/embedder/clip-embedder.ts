import os from 'node:os';
import type { ClipTokenizer, TokenizedText } from '../tokenizer/clip-tokenizer';
import type { ImageInput } from '@clip-search/contracts';
import type { ImagePreprocessor, PreprocessedImage } from '../image/image-preprocessor';
import { BackendUnavailableError, InvalidImageError, InvalidInputError } from '@clip-search/contracts';
import type { Metrics } from '@clip-search/platform';
import type { ModelManifest } from '@clip-search/contracts';
import type {
  EmbedImagesOptions,
  Embedder,
  ImageEmbedding,
  ModelInfo,
  TextEmbedding,
} from '@clip-search/contracts';
import { FairSemaphore } from './fair-semaphore';
import type { InferenceBackend } from '@clip-search/contracts';
import { l2NormalizedRow } from './l2-normalize';
import { MicroBatcher } from './micro-batcher';

export interface ClipEmbedderOptions {
  readonly backend: InferenceBackend;
  readonly tokenizer: ClipTokenizer;
  readonly preprocessor: ImagePreprocessor;
  readonly manifest: ModelManifest;
  /** Micro-batching: the most items per model call (capped by the backend's own limit). */
  readonly maxBatchSize: number;
  /** Micro-batching: how long an item that finds the model idle waits for company (0 = none). */
  readonly maxWaitMs: number;
  /** Images decoded at once, across all calls, shared fairly between clients (default: one per core, ≥ 2). */
  readonly preprocessConcurrency?: number;
  /**
   * Images preprocessed or being preprocessed but not yet embedded, across all calls, shared fairly
   * between clients (default: two batches). Bounds memory (a 224² tensor is 600 kB) while keeping the
   * next batch ready.
   */
  readonly maxPendingImages?: number;
  readonly metrics?: Metrics;
}

/** Any failure to turn one input into pixels is that input's own error, never its batch's. */
function asInvalidImage(error: unknown): InvalidImageError {
  if (error instanceof InvalidImageError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new InvalidImageError(message, { cause: error });
}

/**
 * The Embedder over any InferenceBackend (ONNX Runtime in-process, Triton): preprocessing, tokenizing,
 * micro-batching and normalization live here once, so both backends give the same embeddings.
 *
 * Images flow through a pipeline: each is decoded (bounded concurrency) and handed to the vision
 * batcher as soon as it is ready, so decoding the next images overlaps inference of the current batch;
 * a bad image becomes its own slot's error. The slots are shared fairly between the clients named in the
 * calls (fair-semaphore.ts), and a call's AbortSignal takes its images that have not started out of the
 * queue. Text batches are cut to their longest real sequence: the CLIP text tower is causal and pools at
 * the end-of-text token, so the padding after it cannot change the result, and running 12 positions
 * instead of 77 is several times faster.
 */
export class ClipEmbedder implements Embedder {
  readonly info: ModelInfo;
  readonly manifest: ModelManifest;
  readonly backend: InferenceBackend;
  readonly tokenizer: ClipTokenizer;
  readonly preprocessor: ImagePreprocessor;

  private readonly vision: MicroBatcher<Float32Array, Float32Array>;
  private readonly text: MicroBatcher<TokenizedText, Float32Array>;
  private readonly decodeSlots: FairSemaphore;
  private readonly pendingSlots: FairSemaphore;
  private readonly metrics: Metrics | undefined;
  private closed = false;

  constructor(options: ClipEmbedderOptions) {
    const { backend, manifest } = options;
    this.backend = backend;
    this.tokenizer = options.tokenizer;
    this.preprocessor = options.preprocessor;
    this.manifest = manifest;
    this.metrics = options.metrics;
    this.info = {
      id: manifest.name,
      dim: manifest.dim,
      imageSize: manifest.image.size,
      contextLength: manifest.text.contextLength,
    };
    const maxBatchSize = Math.min(options.maxBatchSize, backend.maxBatchSize);
    this.vision = new MicroBatcher({
      maxBatchSize,
      maxWaitMs: options.maxWaitMs,
      run: (items) => this.runVision(items),
      onBatch: (n) => this.metrics?.embeddingBatchSize.labels('image').observe(n),
    });
    this.text = new MicroBatcher({
      maxBatchSize,
      maxWaitMs: options.maxWaitMs,
      run: (items) => this.runText(items),
      onBatch: (n) => this.metrics?.embeddingBatchSize.labels('text').observe(n),
    });
    this.decodeSlots = new FairSemaphore(
      options.preprocessConcurrency ?? Math.max(2, os.availableParallelism()),
    );
    this.pendingSlots = new FairSemaphore(options.maxPendingImages ?? 2 * maxBatchSize);
  }

  /** Images being decoded now, and images waiting for a decode slot (across all calls). */
  get decodeQueue(): { readonly decoding: number; readonly waiting: number } {
    return { decoding: this.decodeSlots.active, waiting: this.decodeSlots.waiting };
  }

  async embedImages(
    images: readonly ImageInput[],
    options: EmbedImagesOptions = {},
  ): Promise<ImageEmbedding[]> {
    this.assertOpen();
    options.signal?.throwIfAborted();
    const client = options.client ?? '';
    return Promise.all(images.map((image) => this.embedImage(image, client, options.signal)));
  }

  async embedTexts(texts: readonly string[]): Promise<TextEmbedding[]> {
    this.assertOpen();
    const tokenized = texts.map((text, i) => {
      if (typeof text !== 'string') throw new InvalidInputError(`texts[${i}] is not a string.`);
      return this.tokenizer.tokenize(text);
    });
    const embeddings = await this.text.submitAll(tokenized);
    return embeddings.map((embedding, i) => ({
      embedding,
      truncated: (tokenized[i] as TokenizedText).truncated,
    }));
  }

  async isReady(): Promise<boolean> {
    return !this.closed && (await this.backend.isReady());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.vision.close(), this.text.close()]);
    await this.backend.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new BackendUnavailableError('The embedder is closed.');
  }

  /** Rejects with the signal's reason when aborted; any other failure is the image's own error. */
  private async embedImage(
    input: ImageInput,
    client: string,
    signal: AbortSignal | undefined,
  ): Promise<ImageEmbedding> {
    await this.pendingSlots.acquire(client, signal);
    try {
      let image: PreprocessedImage;
      try {
        image = await this.decodeSlots.use(client, () => this.preprocess(input, signal), signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        return { ok: false, error: asInvalidImage(error) };
      }
      // Nobody is waiting for the embedding any more: leave the model to the callers who are.
      signal?.throwIfAborted();
      const embedding = await this.vision.submit(image.pixels);
      return { ok: true, embedding, width: image.width, height: image.height };
    } finally {
      this.pendingSlots.release(client);
    }
  }

  private async preprocess(input: ImageInput, signal: AbortSignal | undefined): Promise<PreprocessedImage> {
    const stop = this.metrics?.preprocessDuration.startTimer();
    try {
      return await this.preprocessor.preprocess(input, signal === undefined ? {} : { signal });
    } finally {
      stop?.();
    }
  }

  private async runVision(items: readonly Float32Array[]): Promise<Float32Array[]> {
    const { size } = this.manifest.image;
    const stride = 3 * size * size;
    const data = new Float32Array(items.length * stride);
    items.forEach((pixels, i) => {
      if (pixels.length !== stride) {
        throw new InvalidInputError(
          `A preprocessed image holds ${pixels.length} floats; ${stride} expected.`,
        );
      }
      data.set(pixels, i * stride);
    });
    const stop = this.metrics?.embeddingDuration.labels('image', this.backend.kind).startTimer();
    const raw = await this.backend.runVision({ data, count: items.length, size });
    stop?.();
    return items.map((_, i) => l2NormalizedRow(raw, i, this.manifest.dim));
  }

  private async runText(items: readonly TokenizedText[]): Promise<Float32Array[]> {
    // Longest real sequence (SOT … EOT) in the batch; at least 1 position for the backend.
    const length = Math.max(1, ...items.map((t) => t.length));
    const ids = new BigInt64Array(items.length * length);
    items.forEach((t, row) => {
      for (let i = 0; i < length; i++) ids[row * length + i] = BigInt(t.ids[i] ?? this.manifest.text.padId);
    });
    const stop = this.metrics?.embeddingDuration.labels('text', this.backend.kind).startTimer();
    const raw = await this.backend.runText({ ids, count: items.length, length });
    stop?.();
    return items.map((_, i) => l2NormalizedRow(raw, i, this.manifest.dim));
  }
}
