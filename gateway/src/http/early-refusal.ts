import type { Request, Response } from 'express';

/**
 * For a request refused before its body was read (no key, rate limited): the connection is closed once
 * the answer is sent. Node would otherwise read and discard the rest of the body to keep the connection
 * alive — up to MAX_BODY_BYTES from a client that was never going to be served.
 */
export function closeAfterResponse(req: Request, res: Response): void {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (hasBody && !req.readableEnded) res.setHeader('Connection', 'close');
}
