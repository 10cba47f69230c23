import type { AppConfig } from '@clip-search/config';
import type { Logger, Metrics } from '@clip-search/platform';
import {
  BackendUnavailableError,
  type Embedder,
  type IngestQueue,
  type VectorStore,
} from '@clip-search/contracts';

/** What opening the backends is given. */
export interface BackendContext {
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** The model and storage the services work through, opened together (they depend on each other). */
export interface Backends {
  readonly embedder: Embedder;
  readonly store: VectorStore;
  readonly queue: IngestQueue;
  /** For /v1/stats and metric labels: `onnx` or `triton`. */
  readonly embedderBackend: string;
  /** For /v1/stats and metric labels: `embedded` or `milvus`. */
  readonly storeKind: string;
  /** Closes the queue first (it stops its job cleanly), then the store and the embedder. */
  close(): Promise<void>;
}

type GateState =
  | { readonly kind: 'opening' }
  | { readonly kind: 'ready'; readonly backends: Backends }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'closed' };

/**
 * Opens the backends in the background so that the HTTP server answers /healthz (and 503 elsewhere)
 * while a model loads or downloads, instead of refusing connections for minutes. Services take the
 * backends through `require()`, which fails with a 503 problem (Retry-After) until they are ready.
 */
export class BackendGate {
  private state: GateState = { kind: 'opening' };
  /** Resolves once open; rejects with the opening error (a bad model folder, a locked data dir…). */
  readonly ready: Promise<Backends>;

  constructor(open: () => Promise<Backends>) {
    this.ready = open().then(
      (backends) => {
        if (this.state.kind === 'closed') {
          // Closed while opening: nobody will ever use these.
          void backends.close();
          throw new BackendUnavailableError('The server is shutting down');
        }
        this.state = { kind: 'ready', backends };
        return backends;
      },
      (error: unknown) => {
        if (this.state.kind !== 'closed') this.state = { kind: 'failed', error };
        throw error;
      },
    );
    // The rejection is reported through `require()` and by whoever awaits `ready`; never unhandled.
    this.ready.catch(() => undefined);
  }

  /** The backends, or a BackendUnavailableError (503 + Retry-After) saying why not. */
  require(): Backends {
    if (this.state.kind === 'ready') return this.state.backends;
    throw unavailable(this.state);
  }

  /** The backends when ready, else undefined (for /readyz and /v1/stats, which report instead of failing). */
  current(): Backends | undefined {
    return this.state.kind === 'ready' ? this.state.backends : undefined;
  }

  /** The error `require()` would throw now, or undefined when ready (for readiness reports). */
  notReady(): BackendUnavailableError | undefined {
    return this.state.kind === 'ready' ? undefined : unavailable(this.state);
  }

  async close(): Promise<void> {
    const previous = this.state;
    this.state = { kind: 'closed' };
    if (previous.kind === 'ready') await previous.backends.close();
  }
}

/** Why the backends cannot serve in a state other than `ready`, and when to ask again. */
function unavailable(state: Exclude<GateState, { kind: 'ready' }>): BackendUnavailableError {
  switch (state.kind) {
    case 'opening':
      return new BackendUnavailableError('The model and the vector store are still loading', 5);
    case 'failed':
      return new BackendUnavailableError(`The backends failed to open: ${describe(state.error)}`, 30);
    case 'closed':
      return new BackendUnavailableError('The server is shutting down', 5);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
