import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ForbiddenSourceError, InvalidImageError, InvalidSourceError } from '@clip-search/contracts';
import { isWithin, openConfinedFile, realRoots } from './confined-file';
import type { ObjectSource, SourceListIssue, SourceObject } from '@clip-search/contracts';

/** File extensions listed as images (compared lower-case). Everything else in the folder is ignored. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  'jpg',
  'jpeg',
  'png',
  'webp',
  'gif',
  'tiff',
  'tif',
  'avif',
  'heic',
  'heif',
  'bmp',
]);

/** Files larger than this are refused before being read (a 100 Mpx uncompressed TIFF is ~300 MB). */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

export function isImageFileName(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && IMAGE_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}

export interface LocalFolderSourceOptions {
  /** Larger files fail as one item (default 256 MiB), so a stray disk image never fills the memory. */
  readonly maxFileBytes?: number;
}

/**
 * The images under one local folder (`file:///abs/dir`), for embedded mode.
 *
 * - The walk is streamed (`opendir`, one folder at a time), so a folder of a million images never becomes
 *   an array of a million paths.
 * - Only regular files with an image extension are listed; names starting with `.` (hidden files, macOS
 *   `._*` resource forks, `.thumbnails/`) are skipped, as are FIFOs, sockets and devices.
 * - Symbolic links are never followed. A link whose target is outside the root must not be read (the
 *   allowed-roots rule), and a link whose target is inside the root adds nothing: the walk reaches the
 *   target itself, so every image is listed once, under its real path. As a consequence loops are
 *   impossible.
 * - `version` is `<size>-<mtime in whole ms>`: a changed file is re-indexed, an untouched one skipped.
 * - Object URIs are `pathToFileURL(realPath).href` (percent-encoded), under `uri` (the root with a
 *   trailing `/`), so `uri` is a safe prefix filter for exactly this folder's items.
 */
export class LocalFolderSource implements ObjectSource {
  /** `file:///real/dir/`, the prefix of every object URI of this source. */
  readonly uri: string;
  private readonly maxFileBytes: number;

  /** `dir` must be an absolute, symlink-free path (use `resolveFileSource`). */
  constructor(
    readonly dir: string,
    options: LocalFolderSourceOptions = {},
  ) {
    this.uri = folderUri(dir);
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  }

  async *list(signal?: AbortSignal, onIssue?: (issue: SourceListIssue) => void): AsyncIterable<SourceObject> {
    // Depth-first with an explicit stack: only folder paths wait here, never file paths.
    const pending: string[] = [this.dir];
    for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
      signal?.throwIfAborted();
      let handle: fs.Dir;
      try {
        handle = await fsp.opendir(dir, { bufferSize: 128 });
      } catch (error) {
        if (dir === this.dir) throw new InvalidSourceError(`Cannot list ${this.uri}: ${message(error)}`);
        // An unreadable sub-folder must not fail the whole ingest; the pipeline hears of it (and will
        // not sweep, since the listing is incomplete).
        if (!isMissing(error)) onIssue?.({ uri: folderUri(dir), reason: message(error) });
        continue;
      }
      try {
        // `for await` closes the handle, also when the consumer stops early.
        for await (const entry of handle) {
          if (entry.name.startsWith('.')) continue;
          const full = path.join(dir, entry.name);
          const kind = await entryKind(entry, full);
          if (kind === 'directory') pending.push(full);
          else if (kind === 'file' && isImageFileName(entry.name)) {
            const object = await this.describe(full);
            if (object !== undefined) yield object;
          }
          signal?.throwIfAborted();
        }
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        onIssue?.({ uri: folderUri(dir), reason: message(error) });
      }
    }
  }

  async read(object: SourceObject, signal?: AbortSignal): Promise<Uint8Array> {
    const file = this.pathOf(object.uri);
    // The file was a regular file under the folder when listed; if it, or a folder above it, has been
    // replaced by a symlink since, refuse it rather than read wherever the link points.
    const handle = await openConfinedFile(file, [this.dir]);
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new InvalidImageError(`${object.uri} is not a regular file`);
      if (stat.size > this.maxFileBytes)
        throw new InvalidImageError(
          `${object.uri} is ${stat.size} bytes, more than the ${this.maxFileBytes} bytes allowed`,
        );
      return await handle.readFile({ signal });
    } finally {
      await handle.close();
    }
  }

  /** The path of one of this source's object URIs; anything else is refused. */
  private pathOf(uri: string): string {
    let file: string;
    try {
      file = fileURLToPath(uri);
    } catch (error) {
      throw new InvalidSourceError(`Not a file URI: ${uri} (${message(error)})`);
    }
    if (!isWithin(file, this.dir)) throw new ForbiddenSourceError(`${uri} is outside ${this.uri}`);
    return file;
  }

  private async describe(file: string): Promise<SourceObject | undefined> {
    let stat: fs.Stats;
    try {
      stat = await fsp.lstat(file);
    } catch (error) {
      if (isMissing(error)) return undefined; // deleted between readdir and stat
      throw error;
    }
    if (!stat.isFile()) return undefined;
    return {
      uri: pathToFileURL(file).href,
      size: stat.size,
      version: `${stat.size}-${Math.trunc(stat.mtimeMs)}`,
      key: path.relative(this.dir, file).split(path.sep).join('/'),
    };
  }
}

/**
 * Parses and checks an ingest source for embedded mode and returns the folder source to list.
 *
 * Accepted: `file:///abs/dir` (or `file://localhost/abs/dir`), percent-encoded as in any URI. Refused
 * with `InvalidSourceError` (400): another scheme, a relative path or host, a query or fragment, `.`/`..`
 * segments, a folder that does not exist or is not a folder. Refused with `ForbiddenSourceError` (403):
 * a folder whose real path (symlinks resolved) is not inside one of `allowedRoots` — decided before
 * existence is revealed, so a caller cannot probe for folders outside the roots.
 */
export async function resolveFileSource(
  uri: string,
  allowedRoots: readonly string[],
  options: LocalFolderSourceOptions = {},
): Promise<LocalFolderSource> {
  const { path: requested, problem } = parseFolderUri(uri);
  const roots = await realRoots(allowedRoots);
  let unreadable: unknown;
  const real =
    problem === undefined
      ? await fsp.realpath(requested).catch((error: unknown) => {
          unreadable = error;
          return undefined;
        })
      : undefined;
  // A folder that cannot be resolved (missing, a name too long…) lexically inside a root is a plain 400;
  // outside, it is 403 like an existing one, so nothing about paths outside the roots is revealed.
  const decidingPath = real ?? requested;
  if (!roots.some((root) => isWithin(decidingPath, root)))
    throw new ForbiddenSourceError(
      `${uri} is outside the folders ingestion may read (set INGEST_ROOTS to allow more)`,
    );
  if (problem !== undefined) throw new InvalidSourceError(problem);
  if (real === undefined)
    throw new InvalidSourceError(
      isMissing(unreadable) ? `${uri}: no such folder` : `Cannot open ${uri}: ${message(unreadable)}`,
    );
  const stat = await fsp.stat(real);
  if (!stat.isDirectory()) throw new InvalidSourceError(`${uri} is not a folder`);
  return new LocalFolderSource(real, options);
}

/**
 * The absolute path a `file://` folder URI names, without touching the file system. A URI whose
 * percent-encoding is not UTF-8 still names a path (decoded lossily) so that it is refused as outside the
 * roots first, and as badly encoded (`problem`) only inside them.
 */
function parseFolderUri(uri: string): { readonly path: string; readonly problem?: string } {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1];
  if (scheme === undefined)
    throw new InvalidSourceError(`Not a URI: ${JSON.stringify(uri)} (expected file:///abs/dir)`);
  if (scheme.toLowerCase() !== 'file')
    throw new InvalidSourceError(`Embedded mode ingests file:///abs/dir folders only, not ${scheme}: URIs`);
  const rest = /^file:\/\/(?:localhost)?(\/.*)$/is.exec(uri)?.[1];
  if (rest === undefined)
    throw new InvalidSourceError(`${uri}: a folder URI names an absolute path, as in file:///abs/dir`);
  if (/[?#]/.test(rest)) throw new InvalidSourceError(`${uri}: a folder URI has no query or fragment`);
  // Problems with a segment are reported only once the path is known to be inside a root (see above):
  // the path is still computed, lossily where the encoding is not UTF-8.
  const problems: string[] = [];
  const segments = rest.split('/').map((segment) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      problems.push(`${uri}: bad percent-encoding`);
      const bytes = segment.replace(/%([0-9a-f]{2})/gi, (_, hex: string) =>
        String.fromCharCode(parseInt(hex, 16)),
      );
      decoded = Buffer.from(bytes, 'latin1').toString('utf8');
    }
    if (decoded === '.' || decoded === '..') problems.push(`${uri}: '.' and '..' segments are not allowed`);
    if (decoded.includes('/') || decoded.includes('\0'))
      problems.push(`${uri}: encoded '/' or NUL in a path segment`);
    return decoded;
  });
  const [problem] = problems;
  return { path: path.resolve('/', ...segments), ...(problem === undefined ? {} : { problem }) };
}

type EntryKind = 'file' | 'directory' | 'other';

async function entryKind(entry: fs.Dirent, full: string): Promise<EntryKind> {
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'directory';
  if (entry.isSymbolicLink() || entry.isFIFO() || entry.isSocket() || entry.isBlockDevice()) return 'other';
  if (entry.isCharacterDevice()) return 'other';
  // Some file systems do not report the type in readdir: ask lstat (which never follows a link).
  const stat = await fsp.lstat(full).catch(() => undefined);
  if (stat?.isFile()) return 'file';
  if (stat?.isDirectory()) return 'directory';
  return 'other';
}

/** `file:///dir/` with the trailing slash, so that it is a prefix of exactly the folder's contents. */
function folderUri(dir: string): string {
  const href = pathToFileURL(dir).href;
  return href.endsWith('/') ? href : `${href}/`;
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
