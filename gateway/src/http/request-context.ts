import { randomUUID } from 'node:crypto';
import type { ApiScope } from '@clip-search/config';
import type { Logger, Metrics } from '@clip-search/platform';
import type { Request, RequestHandler, Response } from 'express';
import type { DetachedPayloads } from './detached-payloads';
import type { RouteTable } from './route-table';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own extension point for res.locals
  namespace Express {
    interface Locals {
      /** From a sane `X-Request-Id`, else generated; echoed in the response header and in problems. */
      requestId: string;
      /** The gateway logger with this request's id on every line. */
      logger: Logger;
      /** Metric/log route label for responses not served by a route (`/docs`…). */
      routeLabel?: string;
      /**
       * Who is calling, for rate limits, logs and fair scheduling: `key:<name>` for an API key, else
       * `ip:<address>` (see authentication.ts; set before the body is read).
       */
      client: string;
      /** The scopes of the caller's key (every scope when keys are off; none without a key). */
      scopes: readonly ApiScope[];
      /** Large payloads lifted out of the JSON body before validation (see detached-payloads.ts). */
      detachedPayloads?: DetachedPayloads;
    }
  }
}

/** nginx's status for a request whose client closed the connection before the response was complete. */
const CLIENT_CLOSED_REQUEST = 499;

/** Printable, header-safe and short: anything else is replaced, so logs cannot be forged through it. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@+=/-]{1,128}$/;

/**
 * The route template of a request (`/v1/items/:id`), never the raw path: metric label values must stay
 * few, and a path can carry anything a client sends. A request refused before routing (401, 429, 405) is
 * labelled with the API route its path matches (`/v1/items/{id}`), else `unmatched`.
 */
export function routeLabel(req: Request, res: Response, routes?: RouteTable): string {
  if (res.locals.routeLabel !== undefined) return res.locals.routeLabel;
  const route = req.route as { path?: unknown } | undefined;
  if (typeof route?.path === 'string') return `${req.baseUrl}${route.path}`;
  return routes?.match(req.path)?.template ?? 'unmatched';
}

/**
 * Per request: the request id, a child logger carrying it, and — once the response is finished or the
 * client went away — one access-log line and one observation of the HTTP duration histogram.
 */
export function requestContext(logger: Logger, metrics: Metrics, routes?: RouteTable): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.get('x-request-id');
    const requestId = incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.locals.logger = logger.child({ requestId });
    res.setHeader('X-Request-Id', requestId);
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeLabel(req, res, routes);
      // A client that hung up before the end is counted as 499, as nginx does: it is not a success,
      // and not an error of ours either.
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED_REQUEST;
      metrics.httpRequestDuration.observe({ method: req.method, route, status: String(status) }, seconds);
      logger.info('request', {
        requestId,
        method: req.method,
        route,
        path: req.path,
        status,
        durationMs: Math.round(seconds * 1e5) / 100,
        // Undefined only for a request that failed before authentication ran.
        ...((res.locals.client as string | undefined) === undefined ? {} : { client: res.locals.client }),
        ...(status === CLIENT_CLOSED_REQUEST ? { clientClosed: true } : {}),
      });
    };
    res.on('finish', record);
    res.on('close', record);
    next();
  };
}
