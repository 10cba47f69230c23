import { BackendUnavailableError, ClipSearchError, type Logger } from '@clip-search/core';
import { ValidateError } from '@tsoa/runtime';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  MalformedRequestError,
  RouteNotFoundError,
  ValidationFailedError,
  type FieldError,
} from './http-errors';
import { internalProblem, problemOf, PROBLEM_JSON, type Problem } from './problem';

/** Problem details are for people: one field's union mismatch can explain itself at length. */
const MAX_DETAIL = 2000;

/** tsoa names body fields `body.query[0].text` (or `requestBody.…`); the request knows them as `query[0].text`. */
function fieldName(key: string): string {
  return key.replace(/^(?:request)?body\./i, '');
}

/** tsoa's validation failure as our typed error; field values are never echoed (they may be megabytes). */
function fromValidateError(error: ValidateError): ValidationFailedError {
  const errors: FieldError[] = Object.entries(error.fields).map(([key, { message }]) => ({
    field: fieldName(key),
    message,
  }));
  return new ValidationFailedError(errors);
}

/**
 * The typed error behind anything thrown while handling a request, or undefined for a bug. Express and
 * its router signal client mistakes (a path that is not valid percent-encoding…) with an http-errors
 * style 4xx `status`: those are the client's.
 */
export function typedError(error: unknown): ClipSearchError | undefined {
  if (error instanceof ClipSearchError) return error;
  if (error instanceof ValidateError) return fromValidateError(error);
  const { status, expose, message } = (error ?? {}) as {
    status?: unknown;
    expose?: unknown;
    message?: unknown;
  };
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  // The router's own URIError ("Failed to decode param …") carries no `expose` but says nothing secret.
  const safe = (expose === true || error instanceof URIError) && typeof message === 'string';
  return new MalformedRequestError(safe ? message : 'The request could not be understood');
}

/** Any request no route took. */
export const routeNotFound: RequestHandler = (req, res, next) => {
  res.locals.routeLabel = 'unmatched';
  next(new RouteNotFoundError(`No route for ${req.method} ${req.path}`));
};

/**
 * The one place errors become responses: every error is `application/problem+json` (RFC 9457) with a
 * stable `type`. Typed errors say what went wrong; anything else is a bug, answered with a bare 500
 * problem (no message, no stack) and logged in full under the request id.
 */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const requestId = res.locals.requestId as string | undefined;
    const log = (res.locals.logger as Logger | undefined) ?? logger;
    const typed = typedError(error);
    if (res.headersSent) {
      // Mid-stream (an image being sent): no problem can follow; cut the connection so the client sees
      // an incomplete response instead of a silently truncated one.
      log.warn('Response failed after its headers were sent', { requestId, error: describe(error) });
      res.destroy();
      return;
    }
    let problem: Problem;
    if (typed === undefined) {
      log.error('Unhandled error', {
        requestId,
        error: describe(error),
        stack: (error as Error | undefined)?.stack,
      });
      problem = internalProblem(requestId);
    } else {
      problem = problemOf(typed, requestId);
      if (problem.detail.length > MAX_DETAIL) problem.detail = `${problem.detail.slice(0, MAX_DETAIL)}…`;
      // A backend that is loading or down is an expected state (503 + Retry-After, surfaced by /readyz),
      // not a bug: a warning without a stack, so polling /readyz during a model download stays quiet.
      if (typed instanceof BackendUnavailableError) {
        log.warn(typed.message, { requestId, type: typed.type });
        res.setHeader('Retry-After', String(typed.retryAfterSeconds));
      } else if (typed.status >= 500)
        log.error(typed.message, { requestId, type: typed.type, stack: typed.stack });
      else log.debug(typed.message, { requestId, type: typed.type });
    }
    res.status(problem.status).type(PROBLEM_JSON).send(JSON.stringify(problem));
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
