import http from 'node:http';

export interface EarlyAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** Bytes of the body sent before the answer came (the rest never is). */
  readonly sent: number;
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
}

/**
 * Announces a `declaredBytes` body, sends only its first 64 KiB and waits for the answer: a server that
 * waited for the whole body would never answer (the test then times out).
 */
export function sendPartialUpload(
  url: string,
  path: string,
  headers: http.OutgoingHttpHeaders,
  declaredBytes = 30 * 1024 * 1024,
): Promise<EarlyAnswer> {
  const { hostname, port } = new URL(url);
  const sent = 64 * 1024;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: hostname,
      port,
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json', 'content-length': declaredBytes, ...headers },
    });
    const closed = new Promise<void>((resolveClosed) => {
      req.on('socket', (socket) => {
        socket.on('close', () => {
          resolveClosed();
        });
      });
    });
    let answered = false;
    req.on('error', (error) => {
      // Writing to a connection the server closed after answering is expected; before it is not.
      if (!answered) reject(error);
    });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          sent,
          closed,
        });
      });
    });
    req.write(Buffer.alloc(sent, 0x20));
  });
}
