import { Presets, SingleBar } from 'cli-progress';

/** The counters of an ingest job, as GET /v1/ingest/{id} reports them. */
export interface JobCounters {
  readonly total: number;
  readonly processed: number;
  readonly skipped: number;
  readonly failed: number;
}

export interface IngestProgress {
  update(job: JobCounters): void;
  stop(): void;
}

/**
 * A redrawn bar on stderr for a person at a terminal; a line every `intervalMs` otherwise (CI logs,
 * pipes), where a redrawn bar would be noise. Stdout stays free for the job's JSON.
 */
export function createIngestProgress(label: string, intervalMs = 5000): IngestProgress {
  if (process.stderr.isTTY) {
    const bar = new SingleBar(
      {
        stream: process.stderr,
        format: `${label} [{bar}] {value}/{total} | {skipped} skipped, {failed} failed | ETA {eta_formatted}`,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    bar.start(1, 0, { skipped: 0, failed: 0 });
    return {
      update: (job) => {
        bar.setTotal(Math.max(job.total, 1));
        bar.update(job.processed, { skipped: job.skipped, failed: job.failed });
      },
      stop: () => {
        bar.stop();
      },
    };
  }
  let last = 0;
  let latest = '';
  let printed = '';
  const print = (text: string) => {
    if (text !== printed) process.stderr.write(text);
    printed = text;
  };
  return {
    update: (job) => {
      latest = `${label}: ${job.processed}/${job.total} (${job.skipped} skipped, ${job.failed} failed)\n`;
      const now = Date.now();
      if (now - last < intervalMs) return;
      last = now;
      print(latest);
    },
    stop: () => {
      // The final counters, unless that very line is already the last one shown.
      if (latest !== '') print(latest);
    },
  };
}
