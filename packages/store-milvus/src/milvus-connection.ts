import { MilvusClient, type ResStatus } from '@zilliz/milvus2-sdk-node';

import { BackendUnavailableError, ClipSearchError, InvalidInputError } from '@clip-search/contracts';
import type { Logger } from '@clip-search/platform';

export interface ConnectionSettings {
  /** `host:port`, or `https://host:port` for TLS. */
  readonly address: string;
  /** `user:password`, or an API key. */
  readonly token?: string | undefined;
  readonly database?: string | undefined;
  /** The deadline of every call. */
  readonly callTimeoutMs: number;
  readonly logger: Logger;
}

/** gRPC status codes meaning the server was not reached, or did not answer in time. */
const TRANSPORT_FAILURES = new Set([1 /* CANCELLED */, 4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */]);
/**
 * Milvus status codes (its merr package) of a service or collection not ready to serve yet: service not
 * ready or unavailable, request or rate limits, collection not (fully) loaded, channels, segments or
 * nodes not there yet (while it starts or reloads after a restart).
 */
const NOT_READY_CODES = new Set([1, 2, 4, 8, 101, 103, 500, 501, 503, 600, 601, 602, 901, 902, 903, 905]);
const NOT_READY_ERRORS = new Set(['NotReadyServe', 'RateLimit', 'ForceDeny', 'NotReadyCoordActivating']);
/** How often an unreachable Milvus is asked again, and how long each try may take. */
const PROBE_INTERVAL_MS = 1_000;
const PROBE_TIMEOUT_MS = 2_000;

/** A call that ran out of time before the SDK gave up on it. */
class DeadlineError extends Error {}

/**
 * The one Milvus client of a store: every call has a deadline; a call that does not reach Milvus (refused,
 * dropped, timed out) marks it unreachable, and until a probe in the background gets an answer again every
 * call fails at once with BackendUnavailableError instead of waiting out its deadline. Answers with an
 * error status become the errors of contracts (see `checkStatus`).
 *
 * The SDK's own retries are off (they would multiply every deadline), and its connect promise, which its
 * health check awaits forever once it rejected, is started here and always handled.
 */
export class MilvusConnection {
  private readonly client: MilvusClient;
  private unreachable: string | undefined;
  private probe: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly settings: ConnectionSettings) {
    this.client = new MilvusClient({
      address: settings.address,
      ...(settings.token === undefined ? {} : { token: settings.token }),
      ...(settings.database === undefined ? {} : { database: settings.database }),
      timeout: settings.callTimeoutMs,
      maxRetries: 0,
      logLevel: 'error',
      // No client before dropRetryInterceptor has run (the pool creates them with the interceptors then).
      pool: { min: 0, max: 16 },
      // Back at once after Milvus restarts: grpc-js otherwise backs off up to two minutes between tries.
      channelOptions: {
        'grpc.initial_reconnect_backoff_ms': 250,
        'grpc.min_reconnect_backoff_ms': 250,
        'grpc.max_reconnect_backoff_ms': 2_000,
      },
      __SKIP_CONNECT__: true,
    });
    dropRetryInterceptor(this.client);
  }

  /**
   * A connection once Milvus answered the SDK's handshake, which is tried again until `timeoutMs` has
   * passed (a Milvus starting beside the app); BackendUnavailableError after that.
   */
  static async open(settings: ConnectionSettings, timeoutMs: number): Promise<MilvusConnection> {
    const connection = new MilvusConnection(settings);
    try {
      await connection.handshake(timeoutMs);
      return connection;
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  get address(): string {
    return this.settings.address;
  }

  private async handshake(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.client.connect(MilvusClient.sdkInfo.version);
      const attempt = this.client.connectPromise;
      // Awaited just below (or abandoned after its deadline): never an unhandled rejection.
      attempt.catch(() => undefined);
      try {
        const left = Math.max(1, Math.min(this.settings.callTimeoutMs, deadline - Date.now()));
        await withDeadline(attempt, left);
        return;
      } catch (error) {
        if (Date.now() >= deadline || !isTransportFailure(error))
          throw new BackendUnavailableError(
            `Milvus at ${this.address} did not answer within ${timeoutMs} ms: ${messageOf(error)}`,
            5,
            { cause: error },
          );
        await sleep(500);
      }
    }
  }

  /**
   * Runs one SDK call under the deadline, refusing at once while Milvus is unreachable or the store is
   * closed. `what` names the call in errors.
   */
  async call<T>(what: string, run: (client: MilvusClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new BackendUnavailableError('the vector store is closed');
    if (this.unreachable !== undefined)
      throw new BackendUnavailableError(`Milvus at ${this.address} is unreachable: ${this.unreachable}`);
    try {
      return await withDeadline(run(this.client), this.settings.callTimeoutMs);
    } catch (error) {
      throw this.failure(what, error);
    }
  }

  /** Throws the contracts' error for a Milvus answer whose status is not Success. */
  checkStatus(what: string, status: ResStatus | undefined): void {
    if (status === undefined) throw new Error(`Milvus ${what}: the answer has no status`);
    const code = status.code ?? 0;
    if ((status.error_code === 'Success' || status.error_code === 0) && code === 0) return;
    const message = `Milvus ${what} failed: ${status.reason || String(status.error_code)} (code ${code})`;
    if (status.retriable || NOT_READY_CODES.has(code) || NOT_READY_ERRORS.has(String(status.error_code)))
      throw new BackendUnavailableError(message);
    if (status.error_code === 'IllegalArgument' || code === 1100) throw new InvalidInputError(message);
    throw new Error(message);
  }

  /** Whether Milvus answers and calls itself healthy, with what it said. */
  async health(): Promise<{ readonly ok: boolean; readonly detail: string }> {
    if (this.closed) return { ok: false, detail: 'closed' };
    if (this.unreachable !== undefined)
      return { ok: false, detail: `Milvus at ${this.address} is unreachable: ${this.unreachable}` };
    try {
      const health = await this.call('health check', (client) => client.checkHealth());
      const reasons = health.reasons as readonly unknown[];
      return health.isHealthy
        ? { ok: true, detail: `Milvus at ${this.address} is healthy` }
        : { ok: false, detail: `Milvus at ${this.address} is unhealthy: ${reasons.join('; ')}` };
    } catch (error) {
      return { ok: false, detail: messageOf(error) };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.probe);
    try {
      await this.client.closeConnection();
    } catch (error) {
      this.settings.logger.warn('closing the Milvus connection failed', { error: messageOf(error) });
    }
  }

  private failure(what: string, error: unknown): Error {
    if (error instanceof ClipSearchError) return error;
    const message = `Milvus ${what} failed: ${messageOf(error)}`;
    if (isTransportFailure(error)) {
      this.markUnreachable(messageOf(error));
      return new BackendUnavailableError(message, 5, { cause: error });
    }
    return new Error(message, { cause: error });
  }

  private markUnreachable(reason: string): void {
    if (this.closed) return;
    if (this.unreachable === undefined)
      this.settings.logger.warn('Milvus is unreachable; calls fail until it answers again', {
        address: this.address,
        reason,
      });
    this.unreachable = reason;
    if (this.probe === undefined) this.scheduleProbe();
  }

  /** Asks Milvus again every PROBE_INTERVAL_MS until it answers anything at all. */
  private scheduleProbe(): void {
    this.probe = setTimeout(() => {
      withDeadline(this.client.checkHealth(), PROBE_TIMEOUT_MS).then(
        () => {
          this.probe = undefined;
          if (this.unreachable !== undefined)
            this.settings.logger.info('Milvus answers again', { address: this.address });
          this.unreachable = undefined;
        },
        (error: unknown) => {
          if (this.closed) return;
          this.unreachable = messageOf(error);
          this.scheduleProbe();
        },
      );
    }, PROBE_INTERVAL_MS);
    // A probe alone does not keep the process alive.
    this.probe.unref();
  }
}

/**
 * The SDK's retry interceptor serializes every request to JSON for a debug line, debug logging on or not:
 * 4 of the 18 s an upsert of 68 MB of vectors takes. Its retries are off here (maxRetries 0), so it goes,
 * recognized by its source (kept, only slower, should an SDK version change it beyond recognition).
 */
function dropRetryInterceptor(client: MilvusClient): void {
  const options = client.channelOptions as { interceptors?: unknown };
  if (!Array.isArray(options.interceptors)) return;
  options.interceptors = (options.interceptors as unknown[]).filter(
    (interceptor) => !(typeof interceptor === 'function' && interceptor.toString().includes('retryCount')),
  );
}

function isTransportFailure(error: unknown): boolean {
  if (error instanceof DeadlineError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && TRANSPORT_FAILURES.has(code);
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const details = (error as { details?: unknown }).details;
  return typeof details === 'string' && details !== '' ? details : error.message;
}

/** `promise`, or a DeadlineError once `ms` have passed (the call itself ends with its own gRPC deadline). */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new DeadlineError(`no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, expired]).finally(() => {
    clearTimeout(timer);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
