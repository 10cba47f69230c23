import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRequest {
  readonly method: string;
  readonly url: string;
  readonly range: string | undefined;
}

export interface LocalHubOptions {
  readonly repo: string;
  readonly revision: string;
  /** Repository path → local file served for it. */
  readonly files: Readonly<Record<string, string>>;
  /** Digests the model API reports (default: none listed). */
  readonly lfs?: Readonly<Record<string, { sha256: string; size: number }>>;
}

/**
 * A stand-in for the Hugging Face hub on 127.0.0.1, with its URL layout: `/<repo>/resolve/<rev>/<path>`
 * answers with a redirect to the LFS storage (`/lfs/<path>`, as the real hub redirects to its CDN),
 * which serves the bytes with Range support; `/api/models/<repo>/revision/<rev>` lists LFS digests.
 */
export class LocalHub {
  readonly requests: HubRequest[] = [];
  /** When set, the next file response is cut after this many bytes (a dropped connection). */
  dropNextAfterBytes: number | undefined;
  private server: http.Server | undefined;

  constructor(private readonly options: LocalHubOptions) {}

  get endpoint(): string {
    const address = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    const server = this.server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://hub');
    this.requests.push({
      method: req.method ?? 'GET',
      url: url.pathname + url.search,
      range: req.headers.range,
    });
    const { repo, revision, files } = this.options;

    if (url.pathname === `/api/models/${repo}/revision/${revision}`) {
      const siblings = Object.keys(files).map((rfilename) => ({
        rfilename,
        ...(this.options.lfs?.[rfilename] === undefined ? {} : { lfs: this.options.lfs[rfilename] }),
      }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: repo, sha: revision, siblings }));
      return;
    }
    const resolvePrefix = `/${repo}/resolve/${revision}/`;
    if (url.pathname.startsWith(resolvePrefix)) {
      const repoPath = decodeURIComponent(url.pathname.slice(resolvePrefix.length));
      if (files[repoPath] === undefined) {
        this.notFound(res);
        return;
      }
      res.writeHead(302, { Location: `/lfs/${encodeURIComponent(repoPath)}` });
      res.end();
      return;
    }
    if (url.pathname.startsWith('/lfs/')) {
      const local = files[decodeURIComponent(url.pathname.slice('/lfs/'.length))];
      if (local === undefined) {
        this.notFound(res);
        return;
      }
      this.serveFile(local, req.headers.range, res);
      return;
    }
    this.notFound(res);
  }

  private serveFile(file: string, range: string | undefined, res: http.ServerResponse): void {
    const bytes = readFileSync(file);
    let start = 0;
    const match = /^bytes=(\d+)-$/.exec(range ?? '');
    if (match !== null) {
      start = Number(match[1]);
      if (start >= bytes.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${bytes.length}` });
        res.end();
        return;
      }
    }
    const body = bytes.subarray(start);
    res.writeHead(match === null ? 200 : 206, {
      'Content-Length': String(body.length),
      'Content-Type': 'application/octet-stream',
      ...(match === null ? {} : { 'Content-Range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` }),
    });
    const drop = this.dropNextAfterBytes;
    if (drop !== undefined) {
      this.dropNextAfterBytes = undefined;
      res.write(body.subarray(0, drop), () => {
        res.destroy();
      });
      return;
    }
    res.end(body);
  }

  private notFound(res: http.ServerResponse): void {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('Entry not found');
  }
}
