import type { Metadata } from '@clip-search/contracts';
import {
  Body,
  Controller,
  Get,
  Middlewares,
  Path,
  Post,
  Query,
  Response,
  Route,
  Security,
  SuccessResponse,
  Tags,
} from '@tsoa/runtime';
import type { IngestBody, IngestJob, IngestJobList } from '../api/ingest-models';
import { toIngestJob } from '../api/mapping';
import { requireContentType } from '../http/body-parsers';
import { PROBLEM_JSON, type Problem } from '../http/problem';
import type { IngestService } from '../services/ingest-service';

@Route('v1/ingest')
@Tags('ingest')
@Security('api_key', ['search'])
@Security('bearer', ['search'])
export class IngestController extends Controller {
  constructor(private readonly ingest: IngestService) {
    super();
  }

  /**
   * Queues the indexing of a folder. Unchanged files (same size and mtime) are skipped, so re-ingesting
   * is cheap; corrupt files are counted as failed and listed in `errors`, never fail the job.
   */
  @Post()
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Security('api_key', ['admin'])
  @Security('bearer', ['admin'])
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  @Middlewares(requireContentType('application/json'))
  @SuccessResponse(202, 'Queued; poll the Location')
  @Response<Problem>(
    400,
    'Malformed body, or a source that is not an existing file:/// folder',
    undefined,
    PROBLEM_JSON,
  )
  @Response<Problem>(
    403,
    'The source is outside CORPUS_DIR and INGEST_ROOTS, or the key lacks the admin scope',
    undefined,
    PROBLEM_JSON,
  )
  @Response<Problem>(415, 'Not a JSON body', undefined, PROBLEM_JSON)
  @Response<Problem>(422, 'Invalid field', undefined, PROBLEM_JSON)
  @Response<Problem>(429, 'Too many ingest jobs from this client (Retry-After)', undefined, PROBLEM_JSON)
  public async startIngest(@Body() body: IngestBody): Promise<IngestJob> {
    const job = await this.ingest.enqueue({
      source: body.source,
      ...(body.sweep === undefined ? {} : { sweep: body.sweep }),
      // A JSON body holds JSON values only: the cast to the port's type is exact.
      ...(body.metadata === undefined ? {} : { metadata: body.metadata as Metadata }),
    });
    this.setStatus(202);
    this.setHeader('Location', `/v1/ingest/${encodeURIComponent(job.id)}`);
    return toIngestJob(job);
  }

  /**
   * Ingest jobs, newest first.
   * @param limit How many (default 50).
   * @isInt limit must be a whole number
   * @minimum limit 1
   * @maximum limit 1000
   */
  @Get()
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  @Response<Problem>(422, 'A path or query parameter out of range', undefined, PROBLEM_JSON)
  public async listIngests(@Query() limit?: number): Promise<IngestJobList> {
    const jobs = await this.ingest.list(limit ?? 50);
    return { jobs: jobs.map(toIngestJob) };
  }

  /**
   * One job's state and counters.
   * @maxLength id 256
   */
  @Get('{id}')
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  @Response<Problem>(404, 'No such job', undefined, PROBLEM_JSON)
  @Response<Problem>(422, 'A path or query parameter out of range', undefined, PROBLEM_JSON)
  public async getIngest(@Path() id: string): Promise<IngestJob> {
    return toIngestJob(await this.ingest.get(id));
  }

  /**
   * Cancels a queued or running job (items already indexed stay); the job stays listed, as `cancelled`.
   * Cancelling a finished job changes nothing.
   * @maxLength id 256
   */
  @Post('{id}/cancel')
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Security('api_key', ['admin'])
  @Security('bearer', ['admin'])
  @Response<Problem>(403, 'The key lacks the admin scope', undefined, PROBLEM_JSON)
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  @Response<Problem>(404, 'No such job', undefined, PROBLEM_JSON)
  @Response<Problem>(422, 'A path or query parameter out of range', undefined, PROBLEM_JSON)
  public async cancelIngest(@Path() id: string): Promise<IngestJob> {
    return toIngestJob(await this.ingest.cancel(id));
  }
}
