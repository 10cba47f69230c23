import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@clip-search/contracts';

/**
 * Makes sure DATA_DIR is a folder this process can write, before anything is opened in it, and turns every
 * way it can fail into one ConfigError (exit 78) naming DATA_DIR, the path and what is wrong — instead of a
 * stack trace from deep inside the store.
 *
 * - Missing folders are created, parents included (`mkdir -p`): `DATA_DIR=~/.local/share/clip-search` on a
 *   fresh machine should just work. They are created one level at a time, never with Node's recursive
 *   mkdir, which loops forever where the kernel answers ENOENT for an existing parent (`/proc/x`).
 * - A component that is a file, a parent where folders cannot be created, and a folder that cannot be
 *   written are refused. Writability is tested by creating and deleting a file, since permission bits say
 *   nothing for root, read-only mounts or pseudo file systems.
 * - `subfolders` (the store's, the thumbnails') are created too: one of them being a file is the same
 *   mistake.
 */
export function prepareDataDir(dataDir: string, subfolders: readonly string[] = []): void {
  const problem = (what: string, error?: unknown) => {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    return new ConfigError([`DATA_DIR=${dataDir}: ${what}${code === undefined ? '' : ` (${code})`}`]);
  };
  const root = path.resolve(dataDir);
  createFolder(root, problem);
  const probe = path.join(root, `.write-test-${randomUUID()}`);
  try {
    fs.writeFileSync(probe, '', { flag: 'wx' });
  } catch (error) {
    throw problem('not writable', error);
  }
  fs.rmSync(probe, { force: true });
  for (const sub of subfolders) createFolder(path.resolve(root, sub), problem);
}

/** `mkdir -p folder`, one level at a time; a component that is not a folder is refused by name. */
function createFolder(folder: string, problem: (what: string, error?: unknown) => ConfigError): void {
  const missing: string[] = [];
  for (let at = folder; ; at = path.dirname(at)) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(at, { throwIfNoEntry: false });
    } catch (error) {
      // ENOTDIR: a component above is a file, which the walk up reports by name.
      if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw problem(`cannot look at ${at}`, error);
    }
    if (stat?.isDirectory()) break;
    if (stat !== undefined) throw problem(`${at} is not a folder`);
    if (at === path.dirname(at)) throw problem(`${at} does not exist`);
    missing.unshift(at);
  }
  for (const at of missing) {
    try {
      fs.mkdirSync(at);
    } catch (error) {
      // Created meanwhile by another process: fine if it is a folder.
      if (
        (error as NodeJS.ErrnoException).code === 'EEXIST' &&
        fs.statSync(at, { throwIfNoEntry: false })?.isDirectory()
      )
        continue;
      throw problem(`cannot create ${at}`, error);
    }
  }
}
