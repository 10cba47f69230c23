import { randomUUID } from 'node:crypto';
import type { Logger, Metrics } from '@clip-search/core';
import type { Request, RequestHandler, Response } from 'express';

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
    }
  }
}

/** Printable, header-safe and short: anything else is replaced, so logs cannot be forged through it. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@+=/-]{1,128}$/;

/**
 * The route template of a request (`/v1/items/:id`), never the raw path: metric label values must stay
 * few, and a path can carry anything a client sends.
 */
export function routeLabel(req: Request, res: Response): string {
  if (res.locals.routeLabel !== undefined) return res.locals.routeLabel;
  const route = req.route as { path?: unknown } | undefined;
  return typeof route?.path === 'string' ? `${req.baseUrl}${route.path}` : 'unmatched';
}

/**
 * Per request: the request id, a child logger carrying it, and — once the response is finished or the
 * client went away — one access-log line and one observation of the HTTP duration histogram.
 */
export function requestContext(logger: Logger, metrics: Metrics): RequestHandler {
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
      const route = routeLabel(req, res);
      // A client that hung up before the end is logged with the status it was going to get, flagged.
      const aborted = !res.writableFinished;
      metrics.httpRequestDuration.observe(
        { method: req.method, route, status: String(res.statusCode) },
        seconds,
      );
      logger.info('request', {
        requestId,
        method: req.method,
        route,
        path: req.path,
        status: res.statusCode,
        durationMs: Math.round(seconds * 1e5) / 100,
        ...(aborted ? { aborted } : {}),
      });
    };
    res.on('finish', record);
    res.on('close', record);
    next();
  };
}
