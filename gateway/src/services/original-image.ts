import type fsp from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ForbiddenSourceError, type ItemRecord } from '@clip-search/contracts';
import { openConfinedFile, realRoots } from '@clip-search/source-local';
import { type Logger } from '@clip-search/platform';
import { NotFoundError } from '../http/http-errors';
import { contentTypeOf } from './content-type';

/** An item's original image, opened: the caller streams it and must close `handle` when done. */
export interface OriginalImage {
  readonly handle: fsp.FileHandle;
  readonly size: number;
  readonly contentType: string;
  /** Of the bytes actually served (size and mtime of the file now), not of the indexed version. */
  readonly etag: string;
  readonly lastModified: Date;
}

/** The bytes a content type is recognised from. */
const SNIFF_BYTES = 64;

/** Where originals may be read from, and who hears of an attempt to read elsewhere. */
export interface OriginalImageAccess {
  /** The folders ingestion may read (CORPUS_DIR and INGEST_ROOTS): an original outside them is never served. */
  readonly allowedRoots: readonly string[];
  readonly logger: Logger;
}

/**
 * The originals behind `file://` items, opened for `/image` and for thumbnails. A file must still lie inside
 * the allowed roots once every link on its path is resolved (a folder swapped for a symlink after indexing
 * must not lead outside), and must still be a regular file. Outside the roots is answered like a missing
 * file, so that a caller learns nothing about what lies there; the operator gets a warning. The roots' real
 * paths are resolved once, not on every request (a results page asks for dozens of thumbnails).
 */
export class OriginalImages {
  private roots: Promise<string[]> | undefined;

  constructor(private readonly access: OriginalImageAccess) {}

  async open(item: ItemRecord): Promise<OriginalImage> {
    this.roots ??= realRoots(this.access.allowedRoots);
    return openOriginalImage(item, await this.roots, this.access.logger);
  }
}

async function openOriginalImage(
  item: ItemRecord,
  realAllowedRoots: readonly string[],
  logger: Logger,
): Promise<OriginalImage> {
  if (!item.uri.startsWith('file:'))
    throw new NotFoundError(
      `Item ${item.id} is not a local file (${item.uri}); this server serves file:// items`,
    );
  const gone = (why: string) => new NotFoundError(`The original of item ${item.id} is gone (${why})`);
  let handle: fsp.FileHandle;
  try {
    handle = await openConfinedFile(fileURLToPath(item.uri), realAllowedRoots);
  } catch (error) {
    if (error instanceof ForbiddenSourceError) {
      logger.warn('Refused to serve an original outside the allowed roots', {
        itemId: item.id,
        uri: item.uri,
        reason: error.message,
      });
      throw gone('ENOENT');
    }
    throw gone((error as NodeJS.ErrnoException).code ?? 'cannot open');
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw gone('not a regular file');
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    const contentType = contentTypeOf(head.subarray(0, bytesRead));
    if (contentType === undefined) throw gone('no longer an image');
    return {
      handle,
      size: stat.size,
      contentType,
      etag: `"${stat.size.toString(16)}-${Math.trunc(stat.mtimeMs).toString(16)}"`,
      lastModified: stat.mtime,
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
