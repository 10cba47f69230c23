import { BackendUnavailableError, ClipSearchError } from '@clip-search/contracts';
import { type Logger } from '@clip-search/platform';
import { ValidateError } from '@tsoa/runtime';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { clientClosed } from './client-abort';
import {
  ClientClosedRequestError,
  MalformedRequestError,
  MethodNotAllowedError,
  RouteNotFoundError,
  ValidationFailedError,
  type FieldError,
} from './http-errors';
import { internalProblem, problemOf, PROBLEM_JSON, type Problem } from './problem';
import type { RouteTable } from './route-table';

/** tsoa names body fields `body.query[0].text` (or `requestBody.…`); the request knows them as `query[0].text`. */
function fieldName(key: string): string {
  return key.replace(/^(?:request)?body\./i, '').replace(/\.\$(\d+)/g, '[$1]');
}

/** tsoa's validation failure as our typed error; field values are never echoed (they may be megabytes). */
function fromValidateError(error: ValidateError): ValidationFailedError {
  const errors: FieldError[] = Object.entries(error.fields).map(([key, { message }]) => ({
    field: fieldName(key),
    message: readableMessage(message),
  }));
  return new ValidationFailedError(errors);
}

const UNION_FAILURE = 'Could not match the union against any of the items. Issues: ';

/**
 * tsoa explains a union mismatch with the JSON of every alternative's errors, values included. Only the
 * alternatives' messages are kept: "matches none of its forms: (1) invalid string value; (2) …".
 */
function readableMessage(message: string): string {
  if (!message.startsWith(UNION_FAILURE)) return message;
  let alternatives: unknown;
  try {
    alternatives = JSON.parse(message.slice(UNION_FAILURE.length));
  } catch {
    return 'matches none of the forms it may take';
  }
  if (!Array.isArray(alternatives)) return 'matches none of the forms it may take';
  const reasons = alternatives.map((fields, i) => {
    const messages = Object.entries((fields ?? {}) as Record<string, { message?: unknown }>).map(
      ([key, issue]) =>
        `${fieldName(key)}: ${typeof issue.message === 'string' ? readableMessage(issue.message) : 'invalid'}`,
    );
    return `(${i + 1}) ${messages.join(', ')}`;
  });
  return `matches none of the forms it may take: ${reasons.join('; ')}`;
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

/** Any request no route took: 405 with `Allow` when its path is a route's with another method, else 404. */
export function routeNotFound(routes: RouteTable): RequestHandler {
  return (req, res, next) => {
    const route = routes.match(req.path);
    if (route === undefined || route.methods.includes(req.method)) {
      next(new RouteNotFoundError(`No route for ${req.method} ${req.path}`));
      return;
    }
    const allowed = route.methods.join(', ');
    res.setHeader('Allow', allowed);
    next(new MethodNotAllowedError(`${req.method} is not allowed on ${route.template}; it takes ${allowed}`));
  };
}

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
    if (typed instanceof ClientClosedRequestError || clientClosed(res)) {
      // Nobody is listening: nothing to send, and nothing went wrong on our side.
      log.info('Client closed the request', { requestId, error: describe(error) });
      if (!res.headersSent) res.destroy();
      return;
    }
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
