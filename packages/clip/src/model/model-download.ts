import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import type { DownloadProgress } from './download-progress';

/** Why a download failed: the resolver turns each into a ModelLoadError with advice. */
export type DownloadFailure = 'network' | 'http' | 'checksum' | 'io';

export class DownloadError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly failure: DownloadFailure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DownloadError';
  }
}

export interface DownloadFileOptions {
  readonly url: string;
  /** Final path; bytes go to `<dest>.part` first and are renamed only once verified. */
  readonly dest: string;
  /** Expected lowercase hex SHA-256 of the whole file. */
  readonly sha256: string;
  /** Expected size, when known (progress total before the server answers; a larger .part restarts). */
  readonly size?: number;
  /** Shown in progress output. */
  readonly label: string;
  readonly progress: DownloadProgress;
  readonly fetch?: typeof fetch;
  /** Abort when no byte arrives for this long (a stalled connection must not hang a start forever). */
  readonly idleTimeoutMs?: number;
}

/** SHA-256 of a file's bytes, fed into `hash` (so a resumed download hashes what is already on disk). */
async function hashFileInto(file: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFileInto(file, hash);
  return hash.digest('hex');
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  const e = error as { message?: string; cause?: { message?: string; code?: string } };
  const cause = e.cause?.message ?? e.cause?.code;
  return `${e.message ?? String(error)}${cause !== undefined && cause !== e.message ? ` (${cause})` : ''}`;
}

/**
 * Downloads `url` to `dest`, resumably and atomically: bytes are appended to `<dest>.part` (an existing
 * `.part` from an interrupted run is continued with an HTTP Range request), the whole file's SHA-256 is
 * checked, and only then is `.part` renamed to `dest`. A checksum mismatch deletes the `.part`, so no
 * unverified bytes are ever left under a name that looks usable.
 */
export async function downloadFile(options: DownloadFileOptions): Promise<void> {
  const { url, dest, sha256, size, label, progress } = options;
  const fetchImpl = options.fetch ?? fetch;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const part = `${dest}.part`;

  let offset = (await sizeOf(part)) ?? 0;
  if (size !== undefined && offset > size) {
    await rm(part, { force: true });
    offset = 0;
  }

  const abort = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      abort.abort(new Error(`no data for ${idleTimeoutMs} ms`));
    }, idleTimeoutMs);
  };

  let response: Response;
  armIdle();
  try {
    response = await fetchImpl(url, {
      headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
      redirect: 'follow',
      signal: abort.signal,
    });
  } catch (error) {
    clearTimeout(idle);
    throw new DownloadError(describe(error), url, 'network', { cause: error });
  }

  if (offset > 0 && response.status === 416) {
    // The .part already holds every byte (a crash between the last write and the rename).
    clearTimeout(idle);
    await response.body?.cancel();
    await verifyAndPublish(part, dest, sha256, url, createHash('sha256'), true);
    return;
  }
  if (!response.ok) {
    clearTimeout(idle);
    await response.body?.cancel();
    throw new DownloadError(`HTTP ${response.status} ${response.statusText}`.trim(), url, 'http');
  }
  if (offset > 0 && response.status !== 206) offset = 0; // the server ignored Range: start over

  const hash = createHash('sha256');
  if (offset > 0) await hashFileInto(part, hash);
  const length = Number(response.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? offset + length : size;

  const task = progress.begin(label, total, offset);
  let written = offset;
  let file;
  try {
    file = await open(part, offset > 0 ? 'a' : 'w');
  } catch (error) {
    clearTimeout(idle);
    task.end('failed');
    await response.body?.cancel();
    throw new DownloadError(`cannot write ${part}: ${describe(error)}`, url, 'io', { cause: error });
  }
  try {
    if (response.body === null) throw new DownloadError('empty response body', url, 'http');
    for await (const chunk of response.body) {
      armIdle();
      const bytes = chunk as Uint8Array;
      hash.update(bytes);
      await file.write(bytes);
      written += bytes.byteLength;
      task.update(written);
    }
  } catch (error) {
    task.end('failed');
    // The .part stays: the next start resumes from it (its bytes are re-hashed then, and a wrong
    // prefix is caught by the final checksum).
    throw error instanceof DownloadError
      ? error
      : new DownloadError(describe(abort.signal.aborted ? abort.signal.reason : error), url, 'network', {
          cause: error,
        });
  } finally {
    clearTimeout(idle);
    await file.close();
  }
  task.end('done');
  await verifyAndPublish(part, dest, sha256, url, hash, false);
}

async function verifyAndPublish(
  part: string,
  dest: string,
  expected: string,
  url: string,
  hash: Hash,
  hashWholeFile: boolean,
): Promise<void> {
  if (hashWholeFile) await hashFileInto(part, hash);
  const actual = hash.digest('hex');
  if (actual !== expected) {
    await rm(part, { force: true });
    throw new DownloadError(
      `SHA-256 mismatch: expected ${expected}, got ${actual} (the partial file was deleted)`,
      url,
      'checksum',
    );
  }
  try {
    await rename(part, dest);
  } catch (error) {
    throw new DownloadError(`cannot move ${part} to ${dest}: ${describe(error)}`, url, 'io', {
      cause: error,
    });
  }
}
