import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../../..');
export const BIN = path.join(ROOT, 'cli/bin/clip-search.js');
export const TINY = path.join(ROOT, 'fixtures/models/tiny-clip');
export const PHOTOS = path.join(ROOT, 'demo/photos');

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `clip-search ARGS` as a user would: a separate Node process, started from a folder outside the
 * repository, on tiny-clip unless `env` says otherwise. Never rejects: the exit code is part of the result.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: os.tmpdir(),
        env: { ...process.env, CLIP_MODEL_DIR: TINY, ...env },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr });
      },
    );
  });
}
