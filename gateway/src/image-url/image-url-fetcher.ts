import dns from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { LookupFunction } from 'node:net';
import { BackendUnavailableError, ClipSearchError } from '@clip-search/contracts';
import { addressPolicy, type AddressPolicy } from './address-policy';
import { ByteBudget } from './byte-budget';

/** The URL may not be fetched: wrong scheme, or it leads (maybe after a redirect) to a refused address. */
export class ImageUrlForbiddenError extends ClipSearchError {
  readonly type = 'image-url-forbidden';
  readonly status = 403;
  readonly title = 'Image URL not allowed';
}

/** Fetching the URL failed: unreachable, an error status, too many redirects, too large, too slow. */
export class ImageUrlFetchError extends ClipSearchError {
  readonly type = 'image-url-fetch-failed';
  readonly status = 422;
  readonly title = 'Image URL could not be fetched';
}

/** Every download's share of IMAGE_URL_MAX_INFLIGHT_BYTES is taken, and none came free in time. */
export class ImageUrlBusyError extends BackendUnavailableError {}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

export interface ImageUrlFetcherOptions {
  /** Let private, loopback and link-local addresses through (IMAGE_URL_ALLOW_PRIVATE). */
  readonly allowPrivate: boolean;
  /** For the whole fetch, redirects and body included (IMAGE_URL_TIMEOUT_MS). */
  readonly timeoutMs: number;
  /** Larger bodies are aborted as soon as they pass this (IMAGE_URL_MAX_BYTES). */
  readonly maxBytes: number;
  /**
   * Bytes every download of the process may hold at once (IMAGE_URL_MAX_INFLIGHT_BYTES). A download
   * reserves its declared size (or `maxBytes` when undeclared) before reading its body, and keeps it until
   * the request that asked for it is done with the image.
   */
  readonly maxInflightBytes?: number;
  readonly maxRedirects?: number;
  /** Overrides `allowPrivate` with another rule (tests allow one loopback address and not another). */
  readonly policy?: AddressPolicy;
  /** Name resolution; the system resolver by default. Tests map made-up names to local addresses. */
  readonly resolve?: (hostname: string) => Promise<readonly ResolvedAddress[]>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The downloads of one request: their bytes count against the process's budget until `close()`. */
export interface ImageUrlDownloads {
  fetch(url: string, signal?: AbortSignal): Promise<Uint8Array>;
  /** Gives back every reservation the downloads made (call it once the images are embedded). */
  close(): void;
}

async function systemResolve(hostname: string): Promise<readonly ResolvedAddress[]> {
  const results = await dns.lookup(hostname, { all: true, verbatim: true });
  return results.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));
}

/**
 * Downloads the image behind a query's `imageUrl`, guarded against server-side request forgery:
 *
 * - only `http:` and `https:`;
 * - the host name is resolved once, every resolved address is checked against the policy (IPv4, IPv6 and
 *   IPv6 forms that embed an IPv4 address), and the socket connects to the address that passed — Node's
 *   `lookup` hook is pinned to it — so DNS rebinding between check and connect is impossible; TLS still
 *   verifies the certificate against the host name;
 * - redirects are followed by hand (at most `maxRedirects`), each new location checked the same way;
 * - one deadline covers everything, and the body is aborted as soon as it passes `maxBytes`;
 * - no connection reuse (`agent: false`): a pooled socket could belong to another resolution.
 */
export class ImageUrlFetcher {
  private readonly policy: AddressPolicy;
  private readonly resolve: (hostname: string) => Promise<readonly ResolvedAddress[]>;
  private readonly maxRedirects: number;
  private readonly budget: ByteBudget;

  constructor(private readonly options: ImageUrlFetcherOptions) {
    this.policy = options.policy ?? addressPolicy({ allowPrivate: options.allowPrivate });
    this.resolve = options.resolve ?? systemResolve;
    this.maxRedirects = options.maxRedirects ?? 5;
    this.budget = new ByteBudget(options.maxInflightBytes ?? Number.MAX_SAFE_INTEGER);
  }

  /** Bytes reserved by downloads in flight or held by their requests (for tests and metrics). */
  get reservedBytes(): number {
    return this.budget.reserved;
  }

  /** Downloads whose bytes stay reserved until the caller closes them. */
  downloads(): ImageUrlDownloads {
    const releases: (() => void)[] = [];
    return {
      fetch: (url, signal) =>
        this.download(url, signal, (release) => {
          releases.push(release);
        }),
      close: () => {
        for (const release of releases.splice(0)) release();
      },
    };
  }

  /** One download whose reservation ends with it. */
  async fetch(url: string, signal?: AbortSignal): Promise<Uint8Array> {
    const downloads = this.downloads();
    try {
      return await downloads.fetch(url, signal);
    } finally {
      downloads.close();
    }
  }

  private async download(
    url: string,
    signal: AbortSignal | undefined,
    hold: (release: () => void) => void,
  ): Promise<Uint8Array> {
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    const combined = signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
    try {
      let current = parseHttpUrl(url);
      for (let redirects = 0; ; redirects++) {
        const target = await this.pin(current);
        combined.throwIfAborted();
        const response = await request(current, target, combined);
        const status = response.statusCode ?? 0;
        if (REDIRECTS.has(status)) {
          response.resume();
          const location = response.headers.location;
          if (location === undefined)
            throw new ImageUrlFetchError(`${current.href}: ${status} without Location`);
          if (redirects >= this.maxRedirects)
            throw new ImageUrlFetchError(`${url}: more than ${this.maxRedirects} redirects`);
          current = parseHttpUrl(new URL(location, current).href);
          continue;
        }
        if (status < 200 || status > 299) {
          response.resume();
          throw new ImageUrlFetchError(`${current.href} answered HTTP ${status}`);
        }
        const declared = declaredLength(response);
        if (declared !== undefined && declared > this.options.maxBytes) {
          response.destroy();
          throw new ImageUrlFetchError(
            `${current.href}: ${declared} bytes, more than the ${this.options.maxBytes} bytes allowed`,
          );
        }
        hold(await this.reserve(declared ?? this.options.maxBytes, combined, deadline, response));
        return await readBody(response, this.options.maxBytes, declared, current.href);
      }
    } catch (error) {
      if (error instanceof ClipSearchError) throw error;
      if (deadline.aborted)
        throw new ImageUrlFetchError(`${url}: no complete answer within ${this.options.timeoutMs} ms`);
      if (signal?.aborted) throw signal.reason;
      throw new ImageUrlFetchError(`${url}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  }

  /** Waits for room in the budget; the body stays unread (TCP holds the sender back) meanwhile. */
  private async reserve(
    bytes: number,
    signal: AbortSignal,
    deadline: AbortSignal,
    response: http.IncomingMessage,
  ): Promise<() => void> {
    try {
      return await this.budget.reserve(bytes, signal);
    } catch (error) {
      response.destroy();
      if (deadline.aborted)
        throw new ImageUrlBusyError(
          `Image downloads already hold ${this.budget.reserved} bytes (IMAGE_URL_MAX_INFLIGHT_BYTES); try again shortly`,
          1,
        );
      throw error;
    }
  }

  /** The one address to connect to: the host's first address, provided every address passes. */
  private async pin(url: URL): Promise<ResolvedAddress> {
    const host = bareHost(url);
    const literal = net.isIP(host);
    let addresses: readonly ResolvedAddress[];
    if (literal !== 0) addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
    else {
      try {
        addresses = await this.resolve(host);
      } catch (error) {
        throw new ImageUrlFetchError(`${url.href}: cannot resolve ${host}`, { cause: error });
      }
    }
    const [first] = addresses;
    if (first === undefined) throw new ImageUrlFetchError(`${url.href}: ${host} has no address`);
    // Refuse when any address is refused: a name that mixes public and private addresses is suspicious,
    // and refusing it keeps the answer independent of resolver ordering.
    for (const candidate of addresses) {
      const verdict = this.policy(candidate.address);
      if (!verdict.allowed) throw new ImageUrlForbiddenError(`${url.href}: ${host} → ${verdict.reason}`);
    }
    return first;
  }
}

function parseHttpUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ImageUrlFetchError(`${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ImageUrlForbiddenError(`${url.protocol} URLs are not fetched; use http: or https:`);
  return url;
}

/** The host without IPv6 brackets, as resolvers and `net.isIP` want it. */
function bareHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

function request(url: URL, target: ResolvedAddress, signal: AbortSignal): Promise<http.IncomingMessage> {
  // Whatever Node asks (one address or all of them, for happy eyeballs), it gets the checked address.
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all === true) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      {
        protocol: url.protocol,
        hostname: bareHost(url),
        port: url.port === '' ? undefined : Number(url.port),
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { accept: 'image/*', 'user-agent': 'clip-search (image-url)' },
        lookup: pinned,
        agent: false,
        signal,
      },
      resolve,
    );
    req.on('error', reject);
    req.end();
  });
}

/** Content-Length when the response declares a sane one. */
function declaredLength(response: http.IncomingMessage): number | undefined {
  const header = response.headers['content-length'];
  if (header === undefined || !/^\d{1,15}$/.test(header)) return undefined;
  return Number(header);
}

/**
 * The body, at most `maxBytes`. A declared length is read straight into one buffer of that size (no
 * chunk list, no second copy); otherwise chunks are joined at the end.
 */
function readBody(
  response: http.IncomingMessage,
  maxBytes: number,
  declared: number | undefined,
  href: string,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const into = declared === undefined ? undefined : Buffer.allocUnsafe(declared);
    const chunks: Buffer[] = [];
    let total = 0;
    response.on('data', (chunk: Buffer) => {
      const limit = into?.length ?? maxBytes;
      if (total + chunk.length > limit) {
        response.destroy(
          new ImageUrlFetchError(
            into === undefined
              ? `${href}: more than the ${maxBytes} bytes allowed`
              : `${href}: more bytes than its Content-Length of ${into.length}`,
          ),
        );
        return;
      }
      if (into === undefined) chunks.push(chunk);
      else chunk.copy(into, total);
      total += chunk.length;
    });
    response.on('end', () => {
      resolve(into === undefined ? Buffer.concat(chunks, total) : into.subarray(0, total));
    });
    response.on('error', reject);
    response.on('close', () => {
      // Closed before the end (peer reset, deadline): 'end' never comes, so this settles the promise.
      if (!response.complete)
        reject(new ImageUrlFetchError(`${href}: the connection closed before the end of the body`));
    });
  });
}
