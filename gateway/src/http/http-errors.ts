import { ClipSearchError } from '@clip-search/contracts';

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

/** The path exists, but not with this method (RFC 9110: 405 with the methods it has in `Allow`). */
export class MethodNotAllowedError extends ClipSearchError {
  readonly type = 'method-not-allowed';
  readonly status = 405;
  readonly title = 'Method not allowed';
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
    // The problem body lists `errors` (bounded there); the message summarizes the first few.
    const listed = errors.slice(0, 5).map((e) => `${e.field}: ${e.message}`);
    if (errors.length > listed.length) listed.push(`and ${errors.length - listed.length} more`);
    super(listed.join('; '));
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

/**
 * The client closed the connection before the answer was ready (nginx's 499). Never sent, since nobody
 * is listening: it stops the work and is logged at info level and counted under status 499.
 */
export class ClientClosedRequestError extends ClipSearchError {
  readonly type = 'client-closed-request';
  readonly status = 499;
  readonly title = 'Client closed request';
}

/** Keys are required and the request carries none (answered with `WWW-Authenticate: Bearer`). */
export class AuthenticationRequiredError extends ClipSearchError {
  readonly type = 'authentication-required';
  readonly status = 401;
  readonly title = 'Authentication required';
}

/** The request carries a key that is not configured, or a malformed Authorization header. */
export class InvalidApiKeyError extends ClipSearchError {
  readonly type = 'invalid-api-key';
  readonly status = 401;
  readonly title = 'Invalid API key';
}

/** The key is valid but its scope does not cover the operation (a `search` key on an admin route). */
export class InsufficientScopeError extends ClipSearchError {
  readonly type = 'insufficient-scope';
  readonly status = 403;
  readonly title = 'Insufficient scope';
}

/** The client used up its token bucket for this kind of request (answered with `Retry-After`). */
export class RateLimitedError extends ClipSearchError {
  readonly type = 'rate-limited';
  readonly status = 429;
  readonly title = 'Too many requests';
}
