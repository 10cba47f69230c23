import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ItemRecord } from '@clip-search/core';
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

/**
 * Opens the original behind a `file://` item. The file is opened without following a symbolic link
 * (the ingest never indexed one) and must still be a regular file.
 */
export async function openOriginalImage(item: ItemRecord): Promise<OriginalImage> {
  if (!item.uri.startsWith('file:'))
    throw new NotFoundError(
      `Item ${item.id} is not a local file (${item.uri}); this server serves file:// items`,
    );
  const gone = (why: string) => new NotFoundError(`The original of item ${item.id} is gone (${why})`);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(
      fileURLToPath(item.uri),
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
    );
  } catch (error) {
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
