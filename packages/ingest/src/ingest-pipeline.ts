import type { Embedder } from '@clip-search/contracts';
import { createSilentLogger, type Logger } from '@clip-search/platform';
import type { Metrics } from '@clip-search/platform';
import type { Metadata, VectorItem, VectorStore } from '@clip-search/contracts';
import type { IngestItemError } from '@clip-search/contracts';
import { itemIdForUri } from '@clip-search/contracts';
import type { ObjectSource, SourceListIssue, SourceObject } from '@clip-search/contracts';

/** The counters of one ingest run, as `IngestJobStatus` carries them. */
export interface IngestProgress {
  readonly total: number;
  readonly processed: number;
  /** Embedded and stored in this run (processed = indexed + skipped + failed). */
  readonly indexed: number;
  readonly skipped: number;
  readonly failed: number;
  readonly removed: number;
  readonly errors: readonly IngestItemError[];
  /** True once the source has been listed to the end: `total` is then final. */
  readonly listed: boolean;
}

export interface IngestPipelineOptions {
  readonly embedder: Embedder;
  readonly store: VectorStore;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /**
   * Objects per store look-up, embed call and upsert (default 16). Their bytes are held until embedded,
   * so batchSize × batchesInFlight × the typical file size is the memory ingestion takes.
   */
  readonly batchSize?: number;
  /**
   * Batches in flight at once (default 2): while one batch is in inference, the next is being read and
   * decoded, so the model rarely waits for the disk. At most batchSize × batchesInFlight images are held.
   */
  readonly batchesInFlight?: number;
  /** Per-item errors kept in the job status (default 100); later ones are only counted and logged. */
  readonly maxErrors?: number;
}

export interface IngestRun {
  readonly source: ObjectSource;
  /** The URI prefix of every object of the source (`file:///dir/`): the scope of the sweep. */
  readonly sourceUri: string;
  /** Delete stored items under `sourceUri` whose objects were not listed. */
  readonly sweep?: boolean;
  /** Merged over the derived fields into every item's metadata. */
  readonly metadata?: Metadata;
  /** Stops the run: it then rejects with the signal's reason, after the batches in flight are stored. */
  readonly signal?: AbortSignal;
  /** Hears the counters at most every `progressIntervalMs`, and always at the start and the end. */
  readonly onProgress?: (progress: IngestProgress) => void;
  /** Default 1000 ms. */
  readonly progressIntervalMs?: number;
}

const SWEEP_PAGE = 1000;

/**
 * Ingests one source into the vector store: the work of one job, shared by the embedded queue and the
 * BullMQ worker.
 *
 * For each listed object, the item id is the hash of its URI (see item-id.ts). An object whose stored
 * item has the same `contentHash` (the object's `version`) and the same model id is skipped, so a run
 * that restarts after a crash, or a re-ingest, only embeds what changed, and never duplicates anything.
 * The rest is read, embedded and upserted in batches. A bad object (unreadable, corrupt, too large)
 * is one failed item with its reason, never a failed run; a failing store or model fails the run.
 *
 * Item metadata: `folder` (the object's folder relative to the source root, `/`-separated, `''` at the
 * root: equality-filterable; filter a subtree with a `uri` prefix) and `filename` (with extension), then
 * the request's metadata over them.
 */
export class IngestPipeline {
  private readonly parts: PipelineParts;

  constructor(options: IngestPipelineOptions) {
    this.parts = {
      embedder: options.embedder,
      store: options.store,
      logger: options.logger ?? createSilentLogger(),
      metrics: options.metrics,
      batchSize: Math.max(1, options.batchSize ?? 16),
      batchesInFlight: Math.max(1, options.batchesInFlight ?? 2),
      maxErrors: Math.max(0, options.maxErrors ?? 100),
    };
  }

  /**
   * Resolves with the final counters. Rejects when the source cannot be listed or the store or model
   * fails (the job fails), or with the signal's reason on abort.
   */
  async run(run: IngestRun): Promise<IngestProgress> {
    return new IngestRunState(this.parts, run).execute();
  }
}

interface PipelineParts {
  readonly embedder: Embedder;
  readonly store: VectorStore;
  readonly logger: Logger;
  readonly metrics: Metrics | undefined;
  readonly batchSize: number;
  readonly batchesInFlight: number;
  readonly maxErrors: number;
}

type Outcome = 'indexed' | 'skipped' | 'failed';

/** One run's mutable state; the pipeline itself stays reusable and stateless. */
class IngestRunState {
  private readonly modelId: string;
  private readonly controller = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  /** Ids listed in this run, kept only for a sweep (~100 bytes each). */
  private readonly seen: Set<string> | undefined;
  private readonly issues: SourceListIssue[] = [];
  private fatal: { error: unknown } | undefined;
  private lastReport = 0;
  private readonly counts = { total: 0, indexed: 0, skipped: 0, failed: 0, removed: 0, listed: false };
  private readonly errors: IngestItemError[] = [];

  constructor(
    private readonly parts: PipelineParts,
    private readonly run: IngestRun,
  ) {
    this.modelId = this.parts.embedder.info.id;
    this.seen = run.sweep === true ? new Set() : undefined;
  }

  async execute(): Promise<IngestProgress> {
    const external = this.run.signal;
    const forward = () => {
      this.controller.abort(external?.reason);
    };
    if (external?.aborted) throw external.reason;
    external?.addEventListener('abort', forward, { once: true });
    try {
      this.report(true);
      await this.ingestAll();
      this.throwIfStopped();
      if (this.run.sweep === true) await this.sweep();
      this.throwIfStopped();
      this.report(true);
      return this.snapshot();
    } catch (error) {
      this.report(true);
      throw error;
    } finally {
      external?.removeEventListener('abort', forward);
    }
  }

  private async ingestAll(): Promise<void> {
    const { source } = this.run;
    const signal = this.controller.signal;
    let batch: SourceObject[] = [];
    try {
      for await (const object of source.list(signal, (issue) => {
        this.issue(issue);
      })) {
        if (signal.aborted) break;
        this.counts.total += 1;
        this.seen?.add(itemIdForUri(object.uri));
        batch.push(object);
        if (batch.length >= this.parts.batchSize) {
          await this.launch(batch);
          batch = [];
        }
      }
      if (batch.length > 0 && !signal.aborted) await this.launch(batch);
      if (!signal.aborted) this.counts.listed = true;
    } catch (error) {
      // An abort surfaces as its reason after the batches in flight settle; anything else fails the run.
      if (!signal.aborted) this.stop(error);
    }
    await Promise.all(this.inFlight);
    this.report(false);
  }

  /** Starts a batch once fewer than `batchesInFlight` run: this wait is what paces the listing. */
  private async launch(objects: SourceObject[]): Promise<void> {
    while (this.inFlight.size >= this.parts.batchesInFlight) await Promise.race(this.inFlight);
    const task: Promise<void> = this.processBatch(objects)
      .catch((error: unknown) => {
        if (!this.controller.signal.aborted) this.stop(error);
      })
      .finally(() => {
        this.inFlight.delete(task);
        this.report(false);
      });
    this.inFlight.add(task);
  }

  private async processBatch(objects: readonly SourceObject[]): Promise<void> {
    const { store, embedder } = this.parts;
    const signal = this.controller.signal;
    const ids = objects.map((object) => itemIdForUri(object.uri));
    const stored = await store.get(ids);
    const todo: { object: SourceObject; id: string }[] = [];
    objects.forEach((object, i) => {
      const record = stored[i];
      if (record?.contentHash === object.version && record.modelId === this.modelId) this.count('skipped');
      else todo.push({ object, id: ids[i] ?? itemIdForUri(object.uri) });
    });
    if (todo.length === 0) return;

    const read = await Promise.all(
      todo.map(async (entry) => {
        try {
          return { ...entry, bytes: await this.run.source.read(entry.object, signal) };
        } catch (error) {
          if (signal.aborted) throw error;
          this.fail(entry.object.uri, error);
          return undefined;
        }
      }),
    );
    const readable = read.filter((entry) => entry !== undefined);
    if (readable.length === 0) return;

    const embeddings = await embedder.embedImages(readable.map((entry) => entry.bytes));
    if (embeddings.length !== readable.length)
      throw new Error(`The embedder returned ${embeddings.length} results for ${readable.length} images`);
    const ingestedAt = new Date().toISOString();
    const items: VectorItem[] = [];
    readable.forEach(({ object, id }, i) => {
      const result = embeddings[i];
      if (result === undefined) return;
      if (!result.ok) {
        this.fail(object.uri, result.error);
        return;
      }
      items.push({
        id,
        uri: object.uri,
        contentHash: object.version,
        width: result.width,
        height: result.height,
        modelId: this.modelId,
        ingestedAt,
        metadata: this.metadataOf(object),
        vector: result.embedding,
      });
    });
    if (items.length === 0) return;
    // Stored even when a stop was asked meanwhile: the work is done, and a resumed run then skips it.
    await store.upsert(items);
    this.count('indexed', items.length);
  }

  private async sweep(): Promise<void> {
    const seen = this.seen;
    if (seen === undefined) return;
    if (this.issues.length > 0) {
      // Items under a folder that could not be listed would look deleted: never sweep a partial listing.
      this.recordError(this.run.sourceUri, 'sweep skipped: part of the source could not be listed');
      this.parts.logger.warn('Ingest sweep skipped: the listing was incomplete', {
        source: this.run.sourceUri,
        issues: this.issues.length,
      });
      return;
    }
    const { store } = this.parts;
    let after: string | undefined;
    do {
      this.controller.signal.throwIfAborted();
      const page = await store.scan({
        filter: { uri: { prefix: this.run.sourceUri } },
        limit: SWEEP_PAGE,
        ...(after === undefined ? {} : { after }),
      });
      const gone = page.items.filter((item) => !seen.has(item.id)).map((item) => item.id);
      if (gone.length > 0) this.counts.removed += await store.delete(gone);
      this.report(false);
      after = page.next;
    } while (after !== undefined);
  }

  private metadataOf(object: SourceObject): Metadata {
    const key = object.key ?? keyFromUri(object.uri, this.run.sourceUri);
    const slash = key.lastIndexOf('/');
    return {
      folder: slash < 0 ? '' : key.slice(0, slash),
      filename: key.slice(slash + 1),
      ...this.run.metadata,
    };
  }

  private count(outcome: Outcome, n = 1): void {
    this.counts[outcome] += n;
    this.parts.metrics?.ingestedItems.inc({ outcome }, n);
  }

  private fail(uri: string, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    this.count('failed');
    this.recordError(uri, reason);
    this.parts.logger.warn('Ingest item failed', { uri, reason });
  }

  private issue(issue: SourceListIssue): void {
    this.issues.push(issue);
    this.recordError(issue.uri, `not listed: ${issue.reason}`);
    this.parts.logger.warn('Ingest source: part not listed', { ...issue });
  }

  private recordError(uri: string, reason: string): void {
    if (this.errors.length < this.parts.maxErrors) this.errors.push({ uri, reason });
  }

  private stop(error: unknown): void {
    this.fatal ??= { error };
    this.controller.abort(error);
  }

  private throwIfStopped(): void {
    if (this.fatal !== undefined) throw this.fatal.error;
    this.controller.signal.throwIfAborted();
  }

  private report(force: boolean): void {
    const { onProgress } = this.run;
    if (onProgress === undefined) return;
    const now = Date.now();
    if (!force && now - this.lastReport < (this.run.progressIntervalMs ?? 1000)) return;
    this.lastReport = now;
    try {
      onProgress(this.snapshot());
    } catch (error) {
      // Progress is advisory (the store holds the truth): a failing listener never fails the ingest.
      this.parts.logger.warn('Ingest progress listener failed', { error });
    }
  }

  private snapshot(): IngestProgress {
    const { indexed, skipped, failed } = this.counts;
    return { ...this.counts, processed: indexed + skipped + failed, errors: [...this.errors] };
  }
}

/** The object's path under the source, when the source did not give it. */
function keyFromUri(uri: string, sourceUri: string): string {
  if (!uri.startsWith(sourceUri)) return uri;
  const rest = uri.slice(sourceUri.length);
  try {
    return decodeURIComponent(rest);
  } catch {
    return rest;
  }
}
