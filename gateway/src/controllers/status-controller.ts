import { BackendUnavailableError } from '@clip-search/contracts';
import { Controller, Get, Response, Route, Security, Tags } from '@tsoa/runtime';
import type { Health, ReadyStatus, Stats } from '../api/status-models';
import { PROBLEM_JSON, type Problem } from '../http/problem';
import type { StatusService } from '../services/status-service';

@Route('')
@Tags('status')
export class StatusController extends Controller {
  constructor(private readonly status: StatusService) {
    super();
  }

  /** The process is up (liveness): never touches the model or the store. */
  @Get('healthz')
  public healthz(): Health {
    return { status: 'ok' };
  }

  /** The model and the store can serve (readiness); 503 with Retry-After while loading or broken. */
  @Get('readyz')
  @Response<Problem>(503, 'Not ready (Retry-After)', undefined, PROBLEM_JSON)
  public async readyz(): Promise<ReadyStatus> {
    const readiness = await this.status.readiness();
    if (!readiness.ready) {
      const parts = [
        readiness.embedder.ok ? undefined : `embedder: ${readiness.embedder.detail ?? 'not ready'}`,
        readiness.store.ok ? undefined : `store: ${readiness.store.detail ?? 'not ready'}`,
      ].filter((p) => p !== undefined);
      throw new BackendUnavailableError(
        `Not ready (${[...new Set(parts)].join('; ')})`,
        readiness.retryAfterSeconds,
      );
    }
    return { status: 'ready', embedder: readiness.embedder, store: readiness.store };
  }

  /** Counts and configuration: items, model, backends, recent jobs by state. */
  @Get('v1/stats')
  @Security('api_key', ['search'])
  @Security('bearer', ['search'])
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  public async stats(): Promise<Stats> {
    return this.status.stats();
  }
}
