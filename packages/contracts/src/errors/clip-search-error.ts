/**
 * Every error the system raises on purpose carries a stable `type` (a slug, turned into an RFC 7807
 * problem `type` URI by the gateway) and the HTTP status that fits it. Anything else is a bug (500).
 */
export abstract class ClipSearchError extends Error {
  abstract readonly type: string;
  abstract readonly status: number;
  /** A short, fixed human summary of the problem type (RFC 7807 `title`). */
  abstract readonly title: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The bytes are not an image we can decode: corrupt, truncated, unsupported format, or too large. */
export class InvalidImageError extends ClipSearchError {
  readonly type = 'invalid-image';
  readonly status = 422;
  readonly title = 'Invalid image';
}

/** The image format is recognised but not supported (HTTP 415). */
export class UnsupportedImageError extends ClipSearchError {
  readonly type = 'unsupported-image';
  readonly status = 415;
  readonly title = 'Unsupported image format';
}

/** A caller passed input that breaks a documented rule (empty batch, wrong tensor size…). */
export class InvalidInputError extends ClipSearchError {
  readonly type = 'invalid-input';
  readonly status = 400;
  readonly title = 'Invalid input';
}

/** A model could not be found, fetched, verified or loaded. Raised at load, never at query time. */
export class ModelLoadError extends ClipSearchError {
  readonly type = 'model-load-failed';
  readonly status = 503;
  readonly title = 'Model could not be loaded';
}

/** Two parts disagree about the model (tensor names, dims, a store built with another model). */
export class ModelMismatchError extends ClipSearchError {
  readonly type = 'model-mismatch';
  readonly status = 409;
  readonly title = 'Model mismatch';
}

/** A backend (inference server, vector store) is not ready or unreachable; try again later. */
export class BackendUnavailableError extends ClipSearchError {
  readonly type = 'backend-unavailable';
  readonly status = 503;
  readonly title = 'Backend unavailable';
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Environment variables failed validation; the message lists every bad variable. */
export class ConfigError extends ClipSearchError {
  readonly type = 'invalid-config';
  readonly status = 500;
  readonly title = 'Invalid configuration';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** An ingest source URI is malformed, not a `file://` absolute path, or not an existing folder. */
export class InvalidSourceError extends ClipSearchError {
  readonly type = 'invalid-source';
  readonly status = 400;
  readonly title = 'Invalid ingest source';
}

/** An ingest source lies outside the folders the configuration allows (INGEST_ROOTS, CORPUS_DIR). */
export class ForbiddenSourceError extends ClipSearchError {
  readonly type = 'source-forbidden';
  readonly status = 403;
  readonly title = 'Ingest source not allowed';
}
