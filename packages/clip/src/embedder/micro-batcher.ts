import { BackendUnavailableError } from '@clip-search/contracts';

export interface MicroBatcherOptions<I, O> {
  /** The most items one `run` receives. */
  readonly maxBatchSize: number;
  /**
   * How long an item that finds the model idle waits for company before its batch runs (default 0: it
   * runs at once). Items that arrive while a batch runs never wait on this clock: they go when it ends.
   */
  readonly maxWaitMs?: number;
  /** Runs one batch; must resolve to exactly one output per item, in order. */
  readonly run: (items: readonly I[]) => Promise<readonly O[]>;
  /** Called with the size of every batch dispatched (metrics). */
  readonly onBatch?: (size: number) => void;
}

interface Waiting<I, O> {
  readonly item: I;
  readonly resolve: (output: O) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Gathers items from concurrent callers into batches of at most `maxBatchSize`, in arrival order.
 *
 * At most one batch is in flight: the model behind it (ONNX Runtime) already uses every core for one
 * batch, so two would only contend. An item that finds the model idle is dispatched at once, together
 * with whatever was submitted in the same synchronous turn (`submitAll`): waiting for company there
 * would only add latency, since nothing else is using the model. Items that arrive while a batch runs
 * gather, and the next batch is dispatched the moment the running one ends. Batching therefore grows
 * with load by itself: one client gets batches of one and no wait, many clients get full batches.
 *
 * Each item's promise settles with its own output, or with the error of the batch it ran in, so a
 * failing batch reaches exactly its callers.
 */
export class MicroBatcher<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private readonly maxWaitMs: number;
  private inFlight: Promise<void> | undefined;
  /** The idle wait of a positive `maxWaitMs`. */
  private timer: NodeJS.Timeout | undefined;
  /** A dispatch is queued as a microtask, after the current synchronous turn's submissions. */
  private dispatchQueued = false;
  private closed = false;

  constructor(private readonly options: MicroBatcherOptions<I, O>) {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) {
      throw new RangeError(`maxBatchSize must be a positive integer, got ${options.maxBatchSize}`);
    }
    this.maxWaitMs = options.maxWaitMs ?? 0;
    if (!(this.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be ≥ 0, got ${this.maxWaitMs}`);
  }

  /** Items waiting for a batch (not counting the one in flight). */
  get waiting(): number {
    return this.queue.length;
  }

  submit(item: I): Promise<O> {
    if (this.closed) return Promise.reject(new BackendUnavailableError('The embedder is closed.'));
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
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

  /** After a submission: when the waiting items should go. */
  private schedule(): void {
    // The running batch dispatches what gathered when it ends.
    if (this.inFlight !== undefined) return;
    if (this.queue.length >= this.options.maxBatchSize) {
      this.dispatch();
    } else if (this.maxWaitMs > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.dispatch();
      }, this.maxWaitMs);
    } else if (!this.dispatchQueued) {
      // A microtask rather than now, so that items submitted in the same turn share the batch.
      this.dispatchQueued = true;
      queueMicrotask(() => {
        this.dispatchQueued = false;
        this.dispatch();
      });
    }
  }

  private dispatch(): void {
    if (this.inFlight !== undefined || this.queue.length === 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue.splice(0, this.options.maxBatchSize);
    this.options.onBatch?.(batch.length);
    this.inFlight = this.runBatch(batch).finally(() => {
      this.inFlight = undefined;
      // What gathered meanwhile has waited a whole batch already: it goes now, timer or not.
      this.dispatch();
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
