import { ClipSearchError } from '@clip-search/contracts';
import { readEnv } from '@clip-search/config';

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
  // The variables alone, not the server's whole configuration: a client beside a server bound to 0.0.0.0
  // holds no API_KEYS, and must not be refused for it.
  const { HOST: host, PORT: port } = readEnv();
  const connectTo =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${connectTo}:${port}`;
}

/** The environment variable the CLI takes its API key from (a client setting: the server never reads it). */
export const API_KEY_VARIABLE = 'CLIP_SEARCH_API_KEY';

/**
 * The CLI talks to a running gateway over its HTTP API (the one process that owns DATA_DIR), so the
 * index is never opened by two processes at once. JSON in and out; a problem answer becomes a
 * ServerProblemError carrying its detail. The API key, when there is one, goes as a bearer token.
 */
export class GatewayClient {
  private readonly apiKey: string | undefined;

  constructor(
    readonly baseUrl: string,
    apiKey: string | undefined = process.env[API_KEY_VARIABLE],
  ) {
    this.apiKey = apiKey?.trim() === '' ? undefined : apiKey?.trim();
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.apiKey === undefined ? {} : { authorization: `Bearer ${this.apiKey}` }),
        },
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
    if (response.status === 401) {
      const problem = isObject(parsed) ? parsed : {};
      const hint =
        this.apiKey === undefined
          ? `set ${API_KEY_VARIABLE} to an API key of the server`
          : `check ${API_KEY_VARIABLE}`;
      const detail = typeof problem.detail === 'string' ? problem.detail : 'HTTP 401';
      throw new ServerProblemError({ ...problem, detail: `${detail} (${hint})` }, response.status);
    }
    if (!response.ok) throw new ServerProblemError(isObject(parsed) ? parsed : {}, response.status);
    return parsed as T;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
