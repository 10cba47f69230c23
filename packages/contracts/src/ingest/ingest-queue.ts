// The ingestion job interface shared by the embedded in-process queue and the distributed worker's queue:
// the REST API and the CLI speak it, so keep names and shapes and extend compatibly.
import type { Metadata } from '../vector-store/vector-store';

export type IngestState = 'queued' | 'active' | 'completed' | 'failed' | 'cancelled';

export interface IngestItemError {
  readonly uri: string;
  readonly reason: string;
}

export interface IngestRequest {
  /** `file:///abs/dir` (embedded mode) or `s3://bucket/prefix` (distributed). */
  readonly source: string;
  /** Remove indexed items of this source whose files disappeared. */
  readonly sweep?: boolean;
  /** Merged into every item's metadata. */
  readonly metadata?: Metadata;
}

export interface IngestJobStatus {
  readonly id: string;
  readonly source: string;
  readonly state: IngestState;
  /** Objects found so far (final once listing is done). */
  readonly total: number;
  /** Objects handled: indexed + skipped + failed. */
  readonly processed: number;
  /** Unchanged since the last ingest (same size+mtime or hash). */
  readonly skipped: number;
  readonly failed: number;
  /** Swept (deleted) items, when `sweep` was asked. */
  readonly removed: number;
  /** The first per-item errors (bounded list). */
  readonly errors: readonly IngestItemError[];
  /** Why the whole job failed (state `failed`), e.g. the source could not be listed. */
  readonly error?: string;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

/** The port the gateway and CLI submit and watch ingestion through. */
export interface IngestQueue {
  enqueue(request: IngestRequest): Promise<IngestJobStatus>;
  get(id: string): Promise<IngestJobStatus | undefined>;
  /** Newest first. */
  list(options?: { readonly limit?: number }): Promise<IngestJobStatus[]>;
  /** Stops a queued or active job; undefined when unknown. */
  cancel(id: string): Promise<IngestJobStatus | undefined>;
  close(): Promise<void>;
}
