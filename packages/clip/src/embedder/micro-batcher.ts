import { BackendUnavailableError } from '@clip-search/contracts';

export interface MicroBatcherOptions<I, O> {
  /** The most items one `run` receives. */
  readonly maxBatchSize: number;
  /** How long the oldest waiting item waits for company before a partial batch runs. */
  readonly maxWaitMs: number;
  /** Runs one batch; must resolve to exactly one output per item, in order. */
  readonly run: (items: readonly I[]) => Promise<readonly O[]>;
  /** Called with the size of every batch dispatched (metrics). */
  readonly onBatch?: (size: number) => void;
}

interface Waiting<I, O> {
  readonly item: I;
  readonly enqueuedAt: number;
  readonly resolve: (output: O) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Gathers items from concurrent callers into batches, like Triton's dynamic batcher: a batch is
 * dispatched as soon as `maxBatchSize` items wait, or `maxWaitMs` after the oldest waiting item arrived.
 *
 * At most one batch is in flight: the model behind it (ONNX Runtime) already uses every core for one
 * batch, so two would only contend; meanwhile the next batch gathers, and is dispatched the moment the
 * current one ends if it is full or its time is up. Each item's promise settles with its own output, or
 * with the error of the batch it ran in, so a failing batch reaches exactly its callers.
 */
export class MicroBatcher<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The oldest waiting item has waited `maxWaitMs`: dispatch whatever is there as soon as possible. */
  private due = false;
  private closed = false;

  constructor(private readonly options: MicroBatcherOptions<I, O>) {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) {
      throw new RangeError(`maxBatchSize must be a positive integer, got ${options.maxBatchSize}`);
    }
    if (!(options.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be ≥ 0, got ${options.maxWaitMs}`);
  }

  /** Items waiting for a batch (not counting the one in flight). */
  get waiting(): number {
    return this.queue.length;
  }

  submit(item: I): Promise<O> {
    if (this.closed) return Promise.reject(new BackendUnavailableError('The embedder is closed.'));
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, enqueuedAt: Date.now(), resolve, reject });
      if (this.queue.length === 1 && !this.due) this.armTimer(this.options.maxWaitMs);
      this.pump();
    });
  }

  /** Submits several items; they may run in different batches. Rejects if any of their batches fails. */
  submitAll(items: readonly I[]): Promise<O[]> {
    return Promise.all(items.map((item) => this.submit(item)));
  }

  /** Rejects every waiting item, lets the batch in flight finish, and refuses new items. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const error = new BackendUnavailableError('The embedder was closed before this item ran.');
    for (const waiting of this.queue.splice(0)) waiting.reject(error);
    await this.inFlight;
  }

  private armTimer(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.due = true;
      this.pump();
    }, delayMs);
  }

  private pump(): void {
    if (this.inFlight !== undefined || this.queue.length === 0) return;
    if (this.queue.length < this.options.maxBatchSize && !this.due) return;

    const batch = this.queue.splice(0, this.options.maxBatchSize);
    this.due = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    const head = this.queue[0];
    if (head !== undefined) {
      // The clock of the next batch started when its oldest item arrived, not now.
      const remaining = head.enqueuedAt + this.options.maxWaitMs - Date.now();
      if (remaining <= 0) this.due = true;
      else this.armTimer(remaining);
    }
    this.options.onBatch?.(batch.length);
    this.inFlight = this.runBatch(batch).finally(() => {
      this.inFlight = undefined;
      this.pump();
    });
  }

  private async runBatch(batch: readonly Waiting<I, O>[]): Promise<void> {
    try {
      const outputs = await this.options.run(batch.map((w) => w.item));
      if (outputs.length !== batch.length) {
        throw new Error(`a batch of ${batch.length} items produced ${outputs.length} outputs`);
      }
      batch.forEach((waiting, i) => {
        waiting.resolve(outputs[i] as O);
      });
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  }
}
