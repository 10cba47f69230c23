import { ClipSearchError, loadConfig } from '@clip-search/core';

/** An error answer of the server, as its problem details describe it. */
export class ServerProblemError extends ClipSearchError {
  readonly type: string;
  readonly status: number;
  readonly title: string;
  constructor(
    problem: { type?: unknown; status?: unknown; title?: unknown; detail?: unknown },
    status: number,
  ) {
    super(typeof problem.detail === 'string' ? problem.detail : `HTTP ${status}`);
    this.type = typeof problem.type === 'string' ? problem.type : 'about:blank';
    this.status = typeof problem.status === 'number' ? problem.status : status;
    this.title = typeof problem.title === 'string' ? problem.title : `HTTP ${status}`;
  }
}

/** No server answered at the URL. */
export class ServerUnreachableError extends ClipSearchError {
  readonly type = 'server-unreachable';
  readonly status = 503;
  readonly title = 'Server unreachable';
}

/** The `--url` option every command that talks to a running server takes. */
export const URL_OPTION = { url: { type: 'string' } } as const;

/**
 * The server URL: `--url`, else the local gateway at PORT (and HOST, unless it is a wildcard address,
 * which is not somewhere to connect to).
 */
export function serverUrl(url: string | undefined): string {
  if (url !== undefined) return url.replace(/\/+$/, '');
  const { host, port } = loadConfig().server;
  const connectTo =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${connectTo}:${port}`;
}

/**
 * The CLI talks to a running gateway over its HTTP API (the one process that owns DATA_DIR), so the
 * index is never opened by two processes at once. JSON in and out; a problem answer becomes a
 * ServerProblemError carrying its detail.
 */
export class GatewayClient {
  constructor(readonly baseUrl: string) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      // fetch hides the socket error in `cause` (an AggregateError when several addresses were tried).
      const cause = (error as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } })
        .cause;
      const why = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (error as Error).message;
      throw new ServerUnreachableError(
        `no clip-search server at ${this.baseUrl} (${why}); start one with \`clip-search serve\` or pass --url`,
        { cause: error },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new ServerProblemError(
        { detail: `${response.status}: not a JSON answer from ${this.baseUrl}` },
        response.status,
      );
    }
    if (!response.ok) throw new ServerProblemError(isObject(parsed) ? parsed : {}, response.status);
    return parsed as T;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
