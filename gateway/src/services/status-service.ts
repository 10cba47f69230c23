import type { IngestState } from '@clip-search/contracts';
import type { BackendGate } from '../app/backend-gate';

export interface ComponentCheck {
  readonly ok: boolean;
  readonly detail?: string;
}

export interface Readiness {
  readonly ready: boolean;
  /** When to ask again (Retry-After): soon while loading, later when opening failed. */
  readonly retryAfterSeconds: number;
  readonly embedder: ComponentCheck;
  readonly store: ComponentCheck;
}

export interface ServiceStats {
  readonly items: number;
  readonly model: {
    readonly id: string;
    readonly dim: number;
    readonly imageSize: number;
    readonly contextLength: number;
  };
  readonly embedderBackend: string;
  readonly storeKind: string;
  /** Jobs by state, over the most recent `JOBS_SUMMARIZED` jobs. */
  readonly jobs: Record<IngestState, number>;
}

/** How many recent jobs /v1/stats summarizes. */
export const JOBS_SUMMARIZED = 1000;

/** Readiness (for /readyz) and the numbers of /v1/stats. */
export class StatusService {
  constructor(private readonly backends: BackendGate) {}

  async readiness(): Promise<Readiness> {
    const backends = this.backends.current();
    const notReady = this.backends.notReady();
    if (backends === undefined || notReady !== undefined) {
      const detail = notReady?.message ?? 'not open';
      const retryAfterSeconds = notReady?.retryAfterSeconds ?? 5;
      return {
        ready: false,
        retryAfterSeconds,
        embedder: { ok: false, detail },
        store: { ok: false, detail },
      };
    }
    const [embedder, store] = await Promise.all([
      backends.embedder.isReady().then(
        (ok): ComponentCheck => (ok ? { ok } : { ok, detail: 'the model backend cannot serve' }),
        (error: unknown): ComponentCheck => ({ ok: false, detail: message(error) }),
      ),
      backends.store.health().then(
        (health): ComponentCheck => health,
        (error: unknown): ComponentCheck => ({ ok: false, detail: message(error) }),
      ),
    ]);
    return { ready: embedder.ok && store.ok, retryAfterSeconds: 5, embedder, store };
  }

  async stats(): Promise<ServiceStats> {
    const { embedder, store, queue, embedderBackend, storeKind } = this.backends.require();
    const [items, jobs] = await Promise.all([store.count(), queue.list({ limit: JOBS_SUMMARIZED })]);
    const byState: Record<IngestState, number> = {
      queued: 0,
      active: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
    };
    for (const job of jobs) byState[job.state]++;
    const { id, dim, imageSize, contextLength } = embedder.info;
    return { items, model: { id, dim, imageSize, contextLength }, embedderBackend, storeKind, jobs: byState };
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
