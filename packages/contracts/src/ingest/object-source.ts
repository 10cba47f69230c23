// CONTRACT — where images come from: a local folder (embedded mode) or an S3 prefix (distributed).

export interface SourceObject {
  /** Canonical URI of the object (`file:///abs/path.jpg`, `s3://bucket/key`): the item id is its hash. */
  readonly uri: string;
  readonly size: number;
  /** Changes whenever the content may have changed: size+mtime for files, the ETag for S3. */
  readonly version: string;
  /**
   * The object's path relative to the source root, `/`-separated (`trips/2019/a.jpg`). Optional: when
   * absent, ingestion derives it from `uri` and the source prefix.
   */
  readonly key?: string;
}

/** A part of the source that could not be listed (an unreadable folder…): the listing went on without it. */
export interface SourceListIssue {
  readonly uri: string;
  readonly reason: string;
}

export interface ObjectSource {
  /**
   * Every image object under the source, streamed (a prefix may hold millions). `onIssue` hears of parts
   * that were left out; a listing with issues is incomplete, so ingestion must not sweep after it.
   */
  list(signal?: AbortSignal, onIssue?: (issue: SourceListIssue) => void): AsyncIterable<SourceObject>;
  read(object: SourceObject, signal?: AbortSignal): Promise<Uint8Array>;
}
