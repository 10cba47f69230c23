import { ClipSearchError } from '@clip-search/core';

/** One invalid field of a request, as listed in a validation problem's `errors`. */
export interface FieldError {
  /** Where the value was: `body.query[1].weight`, `k` (query string), `image` (form field). */
  readonly field: string;
  readonly message: string;
}

/** A resource (item, ingest job) that does not exist. */
export class NotFoundError extends ClipSearchError {
  readonly type = 'not-found';
  readonly status = 404;
  readonly title = 'Not found';
}

/** No route matches the method and path. */
export class RouteNotFoundError extends ClipSearchError {
  readonly type = 'route-not-found';
  readonly status = 404;
  readonly title = 'No such route';
}

/** The body is not parseable JSON (or not a valid multipart form). */
export class MalformedBodyError extends ClipSearchError {
  readonly type = 'malformed-body';
  readonly status = 400;
  readonly title = 'Malformed request body';
}

/** The request itself cannot be understood (a path with broken percent-encoding, say). */
export class MalformedRequestError extends ClipSearchError {
  readonly type = 'malformed-request';
  readonly status = 400;
  readonly title = 'Malformed request';
}

/** The body parsed, but a field breaks the API's schema. */
export class ValidationFailedError extends ClipSearchError {
  readonly type = 'validation-failed';
  readonly status = 422;
  readonly title = 'Request validation failed';
  constructor(readonly errors: readonly FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
  }
}

/** The body or upload is larger than MAX_BODY_BYTES / MAX_UPLOAD_BYTES. */
export class PayloadTooLargeError extends ClipSearchError {
  readonly type = 'payload-too-large';
  readonly status = 413;
  readonly title = 'Payload too large';
}

/** The request's Content-Type is not one the route accepts. */
export class UnsupportedMediaTypeError extends ClipSearchError {
  readonly type = 'unsupported-media-type';
  readonly status = 415;
  readonly title = 'Unsupported media type';
}

/** The weighted terms of a query cancel out: there is no direction to search in. */
export class ZeroQueryError extends ClipSearchError {
  readonly type = 'zero-query-vector';
  readonly status = 422;
  readonly title = 'Query vector is zero';
}
