import { randomUUID } from 'node:crypto';
import {
  BackendUnavailableError,
  type IngestItemError,
  type IngestJobStatus,
  type IngestQueue,
  type IngestRequest,
  type IngestState,
} from '@clip-search/contracts';
import { createSilentLogger, type Logger } from '@clip-search/platform';
import type { IngestPipeline, IngestProgress } from '../ingest-pipeline';
import { validateIngestRequest, type ValidIngestRequest } from '../ingest-request';
import type { SourceResolver } from '../source-resolver';

export interface MemoryIngestQueueOptions {
  /** What runs a job: listing, decoding, embedding and storing in batches. */
  readonly pipeline: IngestPipeline;
  /** Turns a request's `source` into a source to list, by its scheme; refuses what is not allowed. */
  readonly sources: SourceResolver;
  readonly logger?: Logger;
  /** How often an active job's counters are updated (default 1000 ms). */
  readonly progressIntervalMs?: number;
}

/** Why a running job was asked to stop. */
class StopRequest extends Error {
  constructor(readonly why: 'cancel' | 'shutdown') {
    super(why === 'cancel' ? 'Ingest job cancelled' : 'Ingest queue closing');
  }
}

/** One job's state; statuses handed out are copies of it. */
interface Job {
  readonly id: string;
  readonly source: string;
  /** The ValidIngestRequest as JSON: how a request is compared with the ones waiting, and copied to its run. */
  readonly request: string;
  state: IngestState;
  total: number;
  processed: number;
  skipped: number;
  failed: number;
  removed: number;
  errors: readonly IngestItemError[];
  error: string | undefined;
  readonly createdAt: string;
  startedAt: string | undefined;
  finishedAt: string | undefined;
}

const TERMINAL: ReadonlySet<IngestState> = new Set(['completed', 'failed', 'cancelled']);

/**
 * An `IngestQueue` in this process's memory: the embedded queue's behaviour without its SQLite table, for
 * tests and for wirings that must not load the embedded backends. Nothing is durable: the jobs live and
 * die with the queue.
 *
 * - One job runs at a time, in submission order: queued → active → completed | failed | cancelled.
 *   `source` in the status is the canonical source URI (`file:///real/dir/`), the `uri` prefix of the
 *   job's items. A request equal to one still queued hands back that job.
 * - Counters are updated at most every `progressIntervalMs` while a job runs, and at every transition.
 * - `cancel` of a queued job settles it at once; of the active one, turns it `cancelled` at once while the
 *   run winds down in the background (its batches in flight are still stored).
 * - `close()` stops the running job after its batches in flight are stored, then rejects every call.
 *   The embedder and the store are not closed (not owned here).
 */
export class MemoryIngestQueue implements IngestQueue {
  private readonly pipeline: IngestPipeline;
  private readonly sources: SourceResolver;
  private readonly logger: Logger;
  private readonly progressIntervalMs: number;
  /** Every job, in submission order (a Map keeps insertion order). */
  private readonly jobs = new Map<string, Job>();
  private active: { readonly id: string; readonly controller: AbortController } | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly waiters = new Map<string, ((status: IngestJobStatus | undefined) => void)[]>();

  constructor(options: MemoryIngestQueueOptions) {
    this.pipeline = options.pipeline;
    this.sources = options.sources;
    this.logger = options.logger ?? createSilentLogger();
    this.progressIntervalMs = options.progressIntervalMs ?? 1000;
  }

  async enqueue(request: IngestRequest): Promise<IngestJobStatus> {
    this.assertOpen();
    const stored = validateIngestRequest(request);
    // Resolving now turns a bad or forbidden source into the caller's error (400/403), not a failed job.
    const source = await this.sources.resolve(stored.source);
    this.assertOpen();
    const canonical: ValidIngestRequest = { ...stored, source: source.uri };
    const requestJson = JSON.stringify(canonical);
    // The same request already waiting would only repeat it: hand back that job.
    for (const job of this.jobs.values())
      if (job.state === 'queued' && job.request === requestJson) return toStatus(job);
    const id = randomUUID();
    this.jobs.set(id, {
      id,
      source: source.uri,
      request: requestJson,
      state: 'queued',
      total: 0,
      processed: 0,
      skipped: 0,
      failed: 0,
      removed: 0,
      errors: [],
      error: undefined,
      createdAt: now(),
      startedAt: undefined,
      finishedAt: undefined,
    });
    this.logger.info('Ingest job queued', { job: id, source: source.uri });
    this.pump();
    return this.status(id);
  }

  get(id: string): Promise<IngestJobStatus | undefined> {
    return this.whileOpen(() => {
      const job = this.jobs.get(id);
      return job === undefined ? undefined : toStatus(job);
    });
  }

  list(options: { readonly limit?: number } = {}): Promise<IngestJobStatus[]> {
    return this.whileOpen(() => {
      const limit = Math.min(Math.max(Math.trunc(options.limit ?? 50), 1), 1000);
      return [...this.jobs.values()].reverse().slice(0, limit).map(toStatus);
    });
  }

  cancel(id: string): Promise<IngestJobStatus | undefined> {
    return this.whileOpen(() => this.cancelNow(id));
  }

  private cancelNow(id: string): IngestJobStatus | undefined {
    const job = this.jobs.get(id);
    if (job === undefined) return undefined;
    if (job.state === 'queued' || job.state === 'active') {
      // The job turns `cancelled` now; an active run winds down in the background (its batches in
      // flight are still stored) and only updates the counters, never the state, after this.
      const was = job.state;
      job.state = 'cancelled';
      job.finishedAt = now();
      this.logger.info('Ingest job cancelled', { job: id, state: was });
      if (this.active?.id === id) this.active.controller.abort(new StopRequest('cancel'));
      else this.settle(id);
    }
    return toStatus(job);
  }

  /**
   * Resolves once the job is completed, failed or cancelled (and, if it was running, has stopped
   * touching the store); undefined for an unknown id. Rejects if the queue closes first.
   */
  async whenSettled(id: string): Promise<IngestJobStatus | undefined> {
    this.assertOpen();
    const job = this.jobs.get(id);
    if (job === undefined) return undefined;
    if (TERMINAL.has(job.state) && this.active?.id !== id) return toStatus(job);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(id) ?? [];
      list.push((status) => {
        if (status === undefined) reject(new BackendUnavailableError('The ingest queue closed'));
        else resolve(status);
      });
      this.waiters.set(id, list);
    });
  }

  /** Stops the running job (its batches in flight are stored first) and waits for it; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.active?.controller.abort(new StopRequest('shutdown'));
    await this.running;
    for (const [id, list] of this.waiters) {
      this.waiters.delete(id);
      for (const notify of list) notify(undefined);
    }
  }

  /** Starts the oldest queued job unless one runs already. */
  private pump(): void {
    if (this.closed || this.running !== undefined) return;
    const next = [...this.jobs.values()].find((job) => job.state === 'queued');
    if (next === undefined) return;
    this.running = this.runJob(next).finally(() => {
      this.running = undefined;
      this.pump();
    });
  }

  /** Never rejects: every outcome becomes the job's state. */
  private async runJob(job: Job): Promise<void> {
    const { id } = job;
    const controller = new AbortController();
    this.active = { id, controller };
    job.state = 'active';
    job.startedAt ??= now();
    const request = JSON.parse(job.request) as ValidIngestRequest;
    this.logger.info('Ingest job started', { job: id, source: job.source });
    try {
      const source = await this.sources.resolve(request.source);
      const result = await this.pipeline.run({
        source,
        sourceUri: source.uri,
        sweep: request.sweep,
        metadata: request.metadata,
        signal: controller.signal,
        progressIntervalMs: this.progressIntervalMs,
        onProgress: (progress) => {
          saveProgress(job, progress);
        },
      });
      saveProgress(job, result);
      this.finish(job, 'completed', undefined);
      this.logger.info('Ingest job completed', { job: id, ...summary(result) });
    } catch (error) {
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
      if (reason instanceof StopRequest && reason.why === 'shutdown') {
        this.logger.info('Ingest job interrupted by close; it is not resumed (nothing is durable)', {
          job: id,
        });
      } else if (reason instanceof StopRequest) {
        this.logger.info('Ingest job stopped after cancel', { job: id });
      } else {
        this.finish(job, 'failed', error instanceof Error ? error.message : String(error));
        this.logger.error('Ingest job failed', { job: id, error });
      }
    } finally {
      this.active = undefined;
      this.settle(id);
    }
  }

  /** Only an active job finishes: a cancel that came first keeps its state. */
  private finish(job: Job, state: 'completed' | 'failed', error: string | undefined): void {
    if (job.state !== 'active') return;
    job.state = state;
    job.error = error;
    job.finishedAt = now();
  }

  private settle(id: string): void {
    const list = this.waiters.get(id);
    const job = this.jobs.get(id);
    if (list === undefined || job === undefined || !TERMINAL.has(job.state)) return; // close tells them
    this.waiters.delete(id);
    const status = toStatus(job);
    for (const notify of list) notify(status);
  }

  private status(id: string): IngestJobStatus {
    const job = this.jobs.get(id);
    if (job === undefined) throw new Error(`Ingest job ${id} vanished`);
    return toStatus(job);
  }

  /** Runs a synchronous access as a promise that rejects once the queue is closed. */
  private whileOpen<T>(access: () => T): Promise<T> {
    try {
      this.assertOpen();
      return Promise.resolve(access());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new BackendUnavailableError('The ingest queue is closed');
  }
}

/** The run's counters, copied; a cancelled job's still follow its run while it winds down. */
function saveProgress(job: Job, progress: IngestProgress): void {
  job.total = progress.total;
  job.processed = progress.processed;
  job.skipped = progress.skipped;
  job.failed = progress.failed;
  job.removed = progress.removed;
  job.errors = progress.errors.map((error) => ({ uri: error.uri, reason: error.reason }));
}

function toStatus(job: Job): IngestJobStatus {
  return {
    id: job.id,
    source: job.source,
    state: job.state,
    total: job.total,
    processed: job.processed,
    skipped: job.skipped,
    failed: job.failed,
    removed: job.removed,
    errors: job.errors.map((error) => ({ ...error })),
    ...(job.error === undefined ? {} : { error: job.error }),
    createdAt: job.createdAt,
    ...(job.startedAt === undefined ? {} : { startedAt: job.startedAt }),
    ...(job.finishedAt === undefined ? {} : { finishedAt: job.finishedAt }),
  };
}

function summary(progress: IngestProgress) {
  const { total, indexed, skipped, failed, removed } = progress;
  return { total, indexed, skipped, failed, removed };
}

function now(): string {
  return new Date().toISOString();
}
