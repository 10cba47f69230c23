import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { BackendUnavailableError } from '@clip-search/contracts';
import { createSilentLogger, type Logger } from '@clip-search/platform';
import { openDurableDatabase } from '@clip-search/sqlite';
import {
  validateIngestRequest,
  type IngestPipeline,
  type IngestProgress,
  type ValidIngestRequest,
} from '@clip-search/ingest';
import type {
  IngestItemError,
  IngestJobStatus,
  IngestQueue,
  IngestRequest,
  IngestState,
} from '@clip-search/contracts';
import type { SourceResolver } from '@clip-search/ingest';

/** The job table's file under `dataDir`. */
export const INGEST_JOBS_FILE = 'ingest-jobs.sqlite';

export interface EmbeddedIngestQueueOptions {
  /** Jobs live in `<dataDir>/ingest-jobs.sqlite`. */
  readonly dataDir: string;
  /** What runs a job: listing, decoding, embedding and storing in batches. */
  readonly pipeline: IngestPipeline;
  /** Turns a request's `source` into a source to list, by its scheme; refuses what is not allowed. */
  readonly sources: SourceResolver;
  readonly logger?: Logger;
  /** How often an active job's counters are written (default 1000 ms). */
  readonly progressIntervalMs?: number;
}

/** Why a running job was asked to stop. */
class StopRequest extends Error {
  constructor(readonly why: 'cancel' | 'shutdown') {
    super(why === 'cancel' ? 'Ingest job cancelled' : 'Ingest queue closing');
  }
}

interface JobRow {
  readonly seq: number;
  readonly id: string;
  readonly source: string;
  readonly request: string;
  readonly state: IngestState;
  readonly total: number;
  readonly processed: number;
  readonly skipped: number;
  readonly failed: number;
  readonly removed: number;
  readonly errors: string;
  readonly error: string | null;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
}

const TERMINAL: ReadonlySet<IngestState> = new Set(['completed', 'failed', 'cancelled']);

/**
 * The in-process `IngestQueue` of embedded mode: the same job interface the BullMQ worker serves in
 * distributed mode, run by an `IngestPipeline` in this process.
 *
 * - Jobs are rows of a small SQLite table under `dataDir` (WAL, synchronous=FULL), so states and counters
 *   survive a crash. The connection holds SQLite's exclusive lock: a second process opening the same
 *   `dataDir` gets a `BackendUnavailableError` instead of stealing jobs.
 * - One job runs at a time, in submission order: queued → active → completed | failed | cancelled.
 *   `source` in the status is the canonical source URI (`file:///real/dir/`), the `uri` prefix of the
 *   job's items.
 * - Counters are written at most every `progressIntervalMs` while a job runs, and at every transition.
 * - Resumable: on open, a job found `active` (the process died) is queued again, ahead of the others, and
 *   re-run from its listing. The pipeline skips what the store already holds with the same version, so
 *   nothing is embedded twice, and stable item ids rule out duplicates. Its counters restart: the items
 *   done before the crash are then counted as skipped.
 * - `close()` stops the running job after its batches in flight are stored, leaving it `active` in the
 *   table, to be resumed by the next open. The embedder and the store are not closed (not owned here).
 */
export class EmbeddedIngestQueue implements IngestQueue {
  /** Opens (or creates) the job table and starts working: a job left `active` by a crash runs again first. */
  static open(options: EmbeddedIngestQueueOptions): Promise<EmbeddedIngestQueue> {
    return Promise.resolve(new EmbeddedIngestQueue(options));
  }

  private readonly db: Database.Database;
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly pipeline: IngestPipeline;
  private readonly logger: Logger;
  private readonly progressIntervalMs: number;
  private readonly sources: SourceResolver;
  private active: { readonly id: string; readonly controller: AbortController } | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly waiters = new Map<string, ((status: IngestJobStatus | undefined) => void)[]>();

  private constructor(options: EmbeddedIngestQueueOptions) {
    this.logger = options.logger ?? createSilentLogger();
    this.progressIntervalMs = options.progressIntervalMs ?? 1000;
    this.sources = options.sources;
    this.pipeline = options.pipeline;
    this.db = openJobDatabase(options.dataDir);
    this.statements = prepareStatements(this.db);
    const resumed = this.statements.requeueActive.run().changes;
    if (resumed > 0) this.logger.info('Resuming interrupted ingest jobs', { jobs: resumed });
    this.pump();
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
    const waiting = this.statements.findQueued.get(requestJson) as JobRow | undefined;
    if (waiting !== undefined) return toStatus(waiting);
    const id = randomUUID();
    this.statements.insert.run({ id, source: source.uri, request: requestJson, createdAt: now() });
    this.logger.info('Ingest job queued', { job: id, source: source.uri });
    this.pump();
    return this.mustGet(id);
  }

  get(id: string): Promise<IngestJobStatus | undefined> {
    return this.whileOpen(() => {
      const row = this.row(id);
      return row === undefined ? undefined : toStatus(row);
    });
  }

  list(options: { readonly limit?: number } = {}): Promise<IngestJobStatus[]> {
    return this.whileOpen(() => {
      const limit = Math.min(Math.max(Math.trunc(options.limit ?? 50), 1), 1000);
      return (this.statements.list.all(limit) as JobRow[]).map(toStatus);
    });
  }

  cancel(id: string): Promise<IngestJobStatus | undefined> {
    return this.whileOpen(() => this.cancelNow(id));
  }

  private cancelNow(id: string): IngestJobStatus | undefined {
    const row = this.row(id);
    if (row === undefined) return undefined;
    if (row.state === 'queued' || row.state === 'active') {
      // The row turns `cancelled` now; an active run winds down in the background (its batches in
      // flight are still stored) and only updates the counters, never the state, after this.
      this.statements.cancel.run({ id, finishedAt: now() });
      this.logger.info('Ingest job cancelled', { job: id, state: row.state });
      if (this.active?.id === id) this.active.controller.abort(new StopRequest('cancel'));
      else this.settle(id);
    }
    return this.mustGet(id);
  }

  /**
   * Resolves once the job is completed, failed or cancelled (and, if it was running, has stopped
   * touching the store); undefined for an unknown id. Rejects if the queue closes first.
   */
  async whenSettled(id: string): Promise<IngestJobStatus | undefined> {
    this.assertOpen();
    const row = this.row(id);
    if (row === undefined) return undefined;
    if (TERMINAL.has(row.state) && this.active?.id !== id) return toStatus(row);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(id) ?? [];
      list.push((status) => {
        if (status === undefined) reject(new BackendUnavailableError('The ingest queue closed'));
        else resolve(status);
      });
      this.waiters.set(id, list);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.active?.controller.abort(new StopRequest('shutdown'));
    await this.running;
    for (const [id, list] of this.waiters) {
      this.waiters.delete(id);
      for (const notify of list) notify(undefined);
    }
    this.db.close();
  }

  /** Starts the oldest queued job unless one runs already. */
  private pump(): void {
    if (this.closed || this.running !== undefined) return;
    const next = this.statements.nextQueued.get() as JobRow | undefined;
    if (next === undefined) return;
    this.running = this.runJob(next).finally(() => {
      this.running = undefined;
      this.pump();
    });
  }

  /** Never rejects: every outcome becomes the job's state. */
  private async runJob(row: JobRow): Promise<void> {
    const { id } = row;
    const controller = new AbortController();
    this.active = { id, controller };
    this.statements.start.run({ id, startedAt: now() });
    const request = JSON.parse(row.request) as ValidIngestRequest;
    this.logger.info('Ingest job started', { job: id, source: row.source });
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
          this.saveProgress(id, progress);
        },
      });
      this.saveProgress(id, result);
      this.statements.finish.run({ id, state: 'completed', error: null, finishedAt: now() });
      this.logger.info('Ingest job completed', { job: id, ...summary(result) });
    } catch (error) {
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
      if (reason instanceof StopRequest && reason.why === 'shutdown') {
        this.logger.info('Ingest job interrupted; it resumes when the queue reopens', { job: id });
      } else if (reason instanceof StopRequest) {
        this.logger.info('Ingest job stopped after cancel', { job: id });
      } else {
        const message = error instanceof Error ? error.message : String(error);
        this.statements.finish.run({ id, state: 'failed', error: message, finishedAt: now() });
        this.logger.error('Ingest job failed', { job: id, error });
      }
    } finally {
      this.active = undefined;
      this.settle(id);
    }
  }

  private saveProgress(id: string, progress: IngestProgress): void {
    this.statements.progress.run({
      id,
      total: progress.total,
      processed: progress.processed,
      skipped: progress.skipped,
      failed: progress.failed,
      removed: progress.removed,
      errors: JSON.stringify(progress.errors),
    });
  }

  private settle(id: string): void {
    const list = this.waiters.get(id);
    if (list === undefined) return;
    const row = this.row(id);
    if (row === undefined || !TERMINAL.has(row.state)) return; // interrupted by close: waiters are told there
    this.waiters.delete(id);
    const status = toStatus(row);
    for (const notify of list) notify(status);
  }

  private row(id: string): JobRow | undefined {
    return this.statements.get.get(id) as JobRow | undefined;
  }

  private mustGet(id: string): IngestJobStatus {
    const row = this.row(id);
    if (row === undefined) throw new Error(`Ingest job ${id} vanished from the job table`);
    return toStatus(row);
  }

  /** Runs a synchronous table access, as a promise that rejects once the queue is closed. */
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

const JOBS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS ingest_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    total INTEGER NOT NULL DEFAULT 0,
    processed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    removed INTEGER NOT NULL DEFAULT 0,
    errors TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
  );
  CREATE INDEX IF NOT EXISTS ingest_jobs_state ON ingest_jobs (state, seq);
`;

function openJobDatabase(dataDir: string): Database.Database {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, INGEST_JOBS_FILE);
  try {
    return openDurableDatabase(file, JOBS_SCHEMA, 1000);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY')
      throw new BackendUnavailableError(`${file} is in use by another clip-search process`, 5, {
        cause: error,
      });
    throw error;
  }
}

function prepareStatements(db: Database.Database) {
  return {
    get: db.prepare('SELECT * FROM ingest_jobs WHERE id = ?'),
    list: db.prepare('SELECT * FROM ingest_jobs ORDER BY seq DESC LIMIT ?'),
    nextQueued: db.prepare("SELECT * FROM ingest_jobs WHERE state = 'queued' ORDER BY seq LIMIT 1"),
    findQueued: db.prepare(
      "SELECT * FROM ingest_jobs WHERE state = 'queued' AND request = ? ORDER BY seq LIMIT 1",
    ),
    insert: db.prepare(
      "INSERT INTO ingest_jobs (id, source, request, state, created_at) VALUES (@id, @source, @request, 'queued', @createdAt)",
    ),
    requeueActive: db.prepare("UPDATE ingest_jobs SET state = 'queued' WHERE state = 'active'"),
    // A (re)started run counts from zero: what a crashed run did is skipped, and counted so, this time.
    start: db.prepare(
      `UPDATE ingest_jobs SET state = 'active', started_at = COALESCE(started_at, @startedAt),
         total = 0, processed = 0, skipped = 0, failed = 0, removed = 0, errors = '[]', error = NULL
       WHERE id = @id AND state = 'queued'`,
    ),
    progress: db.prepare(
      `UPDATE ingest_jobs SET total = @total, processed = @processed, skipped = @skipped, failed = @failed,
         removed = @removed, errors = @errors WHERE id = @id`,
    ),
    // Only an active job finishes: a cancel that came first keeps its state.
    finish: db.prepare(
      `UPDATE ingest_jobs SET state = @state, error = @error, finished_at = @finishedAt
       WHERE id = @id AND state = 'active'`,
    ),
    cancel: db.prepare(
      `UPDATE ingest_jobs SET state = 'cancelled', finished_at = @finishedAt
       WHERE id = @id AND state IN ('queued', 'active')`,
    ),
  };
}

function toStatus(row: JobRow): IngestJobStatus {
  return {
    id: row.id,
    source: row.source,
    state: row.state,
    total: row.total,
    processed: row.processed,
    skipped: row.skipped,
    failed: row.failed,
    removed: row.removed,
    errors: JSON.parse(row.errors) as IngestItemError[],
    ...(row.error === null ? {} : { error: row.error }),
    createdAt: row.created_at,
    ...(row.started_at === null ? {} : { startedAt: row.started_at }),
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
  };
}

function summary(progress: IngestProgress) {
  const { total, indexed, skipped, failed, removed } = progress;
  return { total, indexed, skipped, failed, removed };
}

function now(): string {
  return new Date().toISOString();
}
