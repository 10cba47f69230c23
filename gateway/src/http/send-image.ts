import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import type { OriginalImage } from '../services/original-image';

function responseOf(req: Request): Response {
  if (req.res === undefined) throw new Error('Express request without its response');
  return req.res;
}

function setCacheHeaders(res: Response, etag: string, cacheControl: string): void {
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', cacheControl);
  // Served bytes are images only; never let a browser guess otherwise.
  res.setHeader('X-Content-Type-Options', 'nosniff');
}

/**
 * Streams an opened original (GET and HEAD), answering 304 when the client's copy is current. Resolves
 * once the last byte is handed to the socket, so the headers are always sent when it returns; a read
 * failure mid-stream rejects and the error middleware cuts the connection.
 */
export async function sendFile(req: Request, original: OriginalImage, cacheControl: string): Promise<void> {
  const res = responseOf(req);
  try {
    setCacheHeaders(res, original.etag, cacheControl);
    res.setHeader('Last-Modified', original.lastModified.toUTCString());
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    res.status(200);
    res.setHeader('Content-Type', original.contentType);
    res.setHeader('Content-Length', String(original.size));
    await pipeline(original.handle.createReadStream({ autoClose: false, start: 0 }), res);
  } finally {
    await original.handle.close();
  }
}

/** Sends an image held in memory, produced only when the client's copy (by ETag) is not current. */
export async function sendBuffer(
  req: Request,
  etag: string,
  cacheControl: string,
  produce: () => Promise<{ readonly data: Buffer; readonly contentType: string }>,
): Promise<void> {
  const res = responseOf(req);
  setCacheHeaders(res, etag, cacheControl);
  if (req.fresh) {
    res.status(304).end();
    return;
  }
  const image = await produce();
  res.status(200).setHeader('Content-Type', image.contentType);
  res.end(image.data);
}
