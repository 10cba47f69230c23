import type { Request, Response } from 'express';
import { ClientClosedRequestError } from './http-errors';

/**
 * Whether the client went away before its response was complete: nothing can be sent any more, and the
 * request is logged and counted as 499 (nginx's "client closed request"), not as an error of ours.
 */
export function clientClosed(res: Response): boolean {
  return !res.writableFinished && (res.destroyed || res.req.socket.destroyed);
}

/** Aborts when the client goes away before its response is complete; work holding it stops early. */
export function abortOnClose(req: Request): AbortSignal {
  const controller = new AbortController();
  req.res?.on('close', () => {
    if (req.res?.writableFinished === false)
      controller.abort(new ClientClosedRequestError('The client closed the connection'));
  });
  return controller.signal;
}
