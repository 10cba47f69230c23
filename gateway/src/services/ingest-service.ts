import { metadataLimitViolations, type IngestJobStatus, type IngestRequest } from '@clip-search/contracts';
import type { BackendGate } from '../app/backend-gate';
import { NotFoundError, ValidationFailedError } from '../http/http-errors';

/** Ingestion jobs, through the IngestQueue port (in-process in embedded mode, BullMQ when distributed). */
export class IngestService {
  constructor(private readonly backends: BackendGate) {}

  /**
   * Queues a job; a malformed source is a 400 and one outside the allowed roots a 403, right here, and
   * metadata over its limits (it is copied into every item) a 422.
   */
  async enqueue(request: IngestRequest): Promise<IngestJobStatus> {
    const problems = request.metadata === undefined ? [] : metadataLimitViolations(request.metadata);
    if (problems.length > 0)
      throw new ValidationFailedError(problems.map(([field, message]) => ({ field, message })));
    return await this.backends.require().queue.enqueue(request);
  }

  async get(id: string): Promise<IngestJobStatus> {
    const job = await this.backends.require().queue.get(id);
    if (job === undefined) throw new NotFoundError(`No ingest job with id ${JSON.stringify(id)}`);
    return job;
  }

  list(limit: number): Promise<IngestJobStatus[]> {
    return this.backends.require().queue.list({ limit });
  }

  async cancel(id: string): Promise<IngestJobStatus> {
    const job = await this.backends.require().queue.cancel(id);
    if (job === undefined) throw new NotFoundError(`No ingest job with id ${JSON.stringify(id)}`);
    return job;
  }
}
