import type * as CliProgress from 'cli-progress';

/** One file being downloaded. */
export interface ProgressTask {
  /** Bytes on disk so far (resumed bytes included). */
  update(bytes: number): void;
  end(outcome: 'done' | 'failed'): void;
}

/** Shows download progress; `begin` is called once per file. */
export interface DownloadProgress {
  begin(label: string, totalBytes: number | undefined, startBytes: number): ProgressTask;
}

/**
 * `bar`: a cli-progress bar on stderr (a person at a terminal); `log`: a line every `intervalMs` and at
 * the end (logs collected by a machine, where a redrawn bar is noise); `auto`: `bar` when stderr is a TTY.
 */
export type ProgressMode = 'auto' | 'bar' | 'log' | 'none';

const MB = 1024 * 1024;
const mb = (bytes: number): string => (bytes / MB).toFixed(1);

export function createDownloadProgress(
  mode: ProgressMode,
  log: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
  intervalMs = 5_000,
): DownloadProgress {
  const effective = mode === 'auto' ? (process.stderr.isTTY ? 'bar' : 'log') : mode;
  switch (effective) {
    case 'none':
      return { begin: () => ({ update: () => undefined, end: () => undefined }) };
    case 'bar':
      return { begin: (label, total, start) => barTask(label, total, start) };
    case 'log':
      return { begin: (label, total, start) => logTask(label, total, start, log, intervalMs) };
  }
}

function barTask(label: string, total: number | undefined, start: number): ProgressTask {
  // Loaded when a download starts: commands that only read a model's manifest (tokenize) skip its modules.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const { Presets, SingleBar } = require('cli-progress') as typeof CliProgress;
  // Without a Content-Length there is no 100%: show the bytes so far, no bar or ETA.
  const format =
    total === undefined
      ? `${label} {done} MB`
      : `${label} [{bar}] {percentage}% | {done}/${mb(total)} MB | ETA {eta_formatted}`;
  const bar = new SingleBar({ stream: process.stderr, format, hideCursor: true }, Presets.shades_classic);
  bar.start(total ?? Number.MAX_SAFE_INTEGER, start, { done: mb(start) });
  return {
    update: (bytes) => {
      bar.update(bytes, { done: mb(bytes) });
    },
    end: () => {
      bar.stop();
    },
  };
}

function logTask(
  label: string,
  total: number | undefined,
  start: number,
  log: (message: string) => void,
  intervalMs: number,
): ProgressTask {
  const of = total === undefined ? '' : ` of ${mb(total)} MB`;
  log(`Downloading ${label}${of}${start > 0 ? ` (resuming at ${mb(start)} MB)` : ''}`);
  let last = Date.now();
  let current = start;
  return {
    update: (bytes) => {
      current = bytes;
      const now = Date.now();
      if (now - last < intervalMs) return;
      last = now;
      const pct = total === undefined ? '' : ` (${Math.floor((100 * bytes) / total)}%)`;
      log(`Downloading ${label}: ${mb(bytes)} MB${of}${pct}`);
    },
    end: (outcome) => {
      log(
        outcome === 'done'
          ? `Downloaded ${label}: ${mb(current)} MB`
          : `Download of ${label} stopped at ${mb(current)} MB`,
      );
    },
  };
}
