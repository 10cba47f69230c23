import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import type { AnnIndexState } from './ann-index';

/**
 * Snapshots of the ANN index on disk, so that opening a store loads a file and replays the few changes made
 * since, instead of re-inserting every vector. A snapshot is only an accelerator: the item table stays the
 * truth, and a snapshot that is missing, truncated or altered is detected here and rebuilt by the caller.
 *
 * Writing one is crash-safe: the index is saved to a temporary file, fsynced, renamed to a name no other
 * snapshot uses, and the directory fsynced, before the caller records the manifest (in the item table, one
 * transaction). A crash at any point leaves the previous manifest pointing at the previous, intact file;
 * files no manifest names are removed on the next open.
 */
export interface SnapshotManifest {
  readonly file: string;
  /** The last write the snapshot includes. */
  readonly seq: number;
  /** What the saved graph holds, checked again when it is loaded. */
  readonly index: AnnIndexState;
  readonly bytes: number;
  readonly sha256: string;
}

const SNAPSHOT_PREFIX = 'ann-';
const SNAPSHOT_SUFFIX = '.hnsw';
const TEMPORARY_SUFFIX = '.tmp';

export function snapshotFileName(seq: number): string {
  return `${SNAPSHOT_PREFIX}${seq}${SNAPSHOT_SUFFIX}`;
}

/**
 * Writes a snapshot and makes the file durable. `capture` saves the index to the path it is given and says
 * which write (seq) and which graph state the file holds; the caller makes sure no write changes the index
 * while it saves. Returns the manifest to record; until it is recorded, the snapshot does not exist.
 */
export async function writeSnapshot(
  dir: string,
  capture: (path: string) => Promise<{ seq: number; state: AnnIndexState }>,
): Promise<SnapshotManifest> {
  const temporary = join(dir, `${SNAPSHOT_PREFIX}${randomUUID()}${TEMPORARY_SUFFIX}`);
  const { seq, state } = await capture(temporary);
  await fsyncFile(temporary);
  const { bytes, sha256 } = await digest(temporary);
  const file = snapshotFileName(seq);
  await rename(temporary, join(dir, file));
  await fsyncFile(dir);
  return { file, seq, index: state, bytes, sha256 };
}

/** Why the snapshot cannot be used, or undefined when its file is intact. */
export async function checkSnapshot(dir: string, manifest: SnapshotManifest): Promise<string | undefined> {
  const path = join(dir, manifest.file);
  try {
    const info = await stat(path);
    if (info.size !== manifest.bytes)
      return `${manifest.file} has ${info.size} bytes, expected ${manifest.bytes}`;
    const { sha256 } = await digest(path);
    if (sha256 !== manifest.sha256) return `${manifest.file} does not match its checksum`;
    return undefined;
  } catch (error) {
    return `${manifest.file} cannot be read: ${(error as Error).message}`;
  }
}

/** Removes snapshot files (and leftovers of interrupted writes) other than `keep`. */
export async function removeOtherSnapshots(dir: string, keep: string | undefined): Promise<void> {
  for (const name of await readdir(dir)) {
    const ours =
      name.startsWith(SNAPSHOT_PREFIX) && (name.endsWith(SNAPSHOT_SUFFIX) || name.endsWith(TEMPORARY_SUFFIX));
    if (ours && name !== keep) await rm(join(dir, name), { force: true });
  }
}

export function parseManifest(text: string | undefined): SnapshotManifest | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<SnapshotManifest>;
    const valid =
      typeof value.file === 'string' &&
      typeof value.seq === 'number' &&
      typeof value.index === 'object' &&
      typeof value.index.nodes === 'number' &&
      typeof value.index.live === 'number' &&
      typeof value.index.params === 'string' &&
      typeof value.bytes === 'number' &&
      typeof value.sha256 === 'string';
    return valid ? (value as SnapshotManifest) : undefined;
  } catch {
    return undefined;
  }
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Streams the file through SHA-256 (off the event loop's critical path, in 1 MiB reads). */
async function digest(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    bytes += buffer.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}
