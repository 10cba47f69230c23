import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ForbiddenSourceError } from '@clip-search/contracts';

/** Whether `file` is `root` or lies under it (both absolute and normalized). */
export function isWithin(file: string, root: string): boolean {
  return file === root || file.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** The real paths of configured roots (a root that cannot be resolved stays as written). */
export async function realRoots(roots: readonly string[]): Promise<string[]> {
  return Promise.all(
    roots.map(async (root) => {
      const absolute = path.resolve(root);
      return fsp.realpath(absolute).catch(() => absolute);
    }),
  );
}

/**
 * Opens `file` for reading and checks that the file actually opened lies inside one of `roots` (real
 * paths), or throws ForbiddenSourceError.
 *
 * O_NOFOLLOW only refuses a link in the last component: a parent folder swapped for a link after indexing
 * would still lead outside. So the path is checked after the open, on the open file itself — the kernel's
 * name for the descriptor — not by resolving the path first and opening it second, which a swap between
 * the two steps would defeat. O_NONBLOCK: a FIFO put in place of the file cannot hang the open.
 */
export async function openConfinedFile(file: string, roots: readonly string[]): Promise<fsp.FileHandle> {
  const handle = await fsp.open(
    file,
    fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
  );
  try {
    const real = await openedPath(handle, file);
    if (real === undefined || !roots.some((root) => isWithin(real, root))) {
      throw new ForbiddenSourceError(
        `${file} resolves to ${real ?? 'an unknown path'}, outside the folders that may be read`,
      );
    }
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * The real path of the file behind `handle`. On Linux, /proc/self/fd names the open file itself. Elsewhere
 * the path is resolved now and accepted only if it still leads to the very file held open (same device and
 * inode): a swap in between then fails closed.
 */
async function openedPath(handle: fsp.FileHandle, file: string): Promise<string | undefined> {
  try {
    return await fsp.readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    const real = await fsp.realpath(file).catch(() => undefined);
    if (real === undefined) return undefined;
    const [held, named] = await Promise.all([handle.stat(), fsp.stat(real).catch(() => undefined)]);
    return named !== undefined && held.dev === named.dev && held.ino === named.ino ? real : undefined;
  }
}
