import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ClipSearchError } from '@clip-search/contracts';
import { parseCommandArgs } from '../args';
import { UsageError } from '../cli-error';
import { GatewayClient, serverUrl, URL_OPTION } from '../gateway-client';
import { createIngestProgress } from '../ingest-progress';

interface Job {
  id: string;
  source: string;
  state: 'queued' | 'active' | 'completed' | 'failed' | 'cancelled';
  total: number;
  processed: number;
  skipped: number;
  failed: number;
  error?: string;
}

/** The job ended failed or cancelled. */
export class IngestJobError extends ClipSearchError {
  readonly type = 'ingest-job-failed';
  readonly status = 500;
  readonly title = 'Ingest job failed';
}

/** `file:///dir` and other URIs as given; a plain path becomes the file URI of its absolute path. */
export function sourceUri(argument: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(argument) ? argument : pathToFileURL(path.resolve(argument)).href;
}

const POLL_MS = 500;

/**
 * `clip-search ingest SOURCE [--wait] [--sweep] [--url URL]`: asks the running gateway to index a folder
 * (`file:///dir` or a path). Prints the job as JSON on stdout; with --wait, follows it (a progress bar
 * on stderr at a terminal), prints its final state and exits 1 unless it completed.
 */
export async function ingestCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, {
    wait: { type: 'boolean' },
    sweep: { type: 'boolean' },
    ...URL_OPTION,
  });
  const [argument, ...extra] = positionals;
  if (argument === undefined || extra.length > 0)
    throw new UsageError(
      'ingest takes one folder, as in: clip-search ingest file:///home/me/Pictures --wait',
    );
  const client = new GatewayClient(serverUrl(values.url));
  let job = await client.request<Job>('POST', '/v1/ingest', {
    source: sourceUri(argument),
    ...(values.sweep === true ? { sweep: true } : {}),
  });
  process.stderr.write(`Ingest job ${job.id} queued for ${job.source}\n`);
  if (values.wait === true) {
    const progress = createIngestProgress('Indexing');
    try {
      while (job.state === 'queued' || job.state === 'active') {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        job = await client.request<Job>('GET', `/v1/ingest/${encodeURIComponent(job.id)}`);
        progress.update(job);
      }
    } finally {
      progress.stop();
    }
  }
  process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
  if (job.state === 'failed' || job.state === 'cancelled')
    throw new IngestJobError(
      `ingest job ${job.id} ${job.state}${job.error === undefined ? '' : `: ${job.error}`}`,
    );
}
