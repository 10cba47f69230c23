import type { JsonObject } from './search-models';

export interface IngestBody {
  /**
   * The folder to index, as a `file:///abs/dir` URI inside CORPUS_DIR or INGEST_ROOTS.
   * @minLength 1
   * @maxLength 4096
   * @pattern ^file:///(?:[^?#%]|%(?!2[Ff]|00)[0-9A-Fa-f]{2})*$
   * @example "file:///home/me/Pictures"
   */
  source: string;
  /** Also remove indexed items of this folder whose files are gone. */
  sweep?: boolean;
  /** Merged into every item's metadata. */
  metadata?: JsonObject;
}

export type IngestJobState = 'queued' | 'active' | 'completed' | 'failed' | 'cancelled';

export interface IngestItemErrorBody {
  uri: string;
  reason: string;
}

export interface IngestJob {
  id: string;
  /** The canonical source (`file:///real/dir/`). */
  source: string;
  state: IngestJobState;
  /** Images found so far (final once listing is done). */
  total: number;
  /** Images handled: indexed + skipped + failed. */
  processed: number;
  /** Unchanged since the last ingest. */
  skipped: number;
  failed: number;
  /** Items removed by `sweep`. */
  removed: number;
  /** The first per-image errors. */
  errors: IngestItemErrorBody[];
  /** Why the whole job failed. */
  error?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface IngestJobList {
  /** Newest first. */
  jobs: IngestJob[];
}
