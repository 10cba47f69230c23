import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '@clip-search/config';
import { parseCommandArgs } from '../args';
import { UsageError } from '../cli-error';
import type * as Gateway from '@clip-search/gateway';

/**
 * `clip-search serve [--port N] [--host H] [--corpus DIR]`: runs the HTTP gateway until Ctrl-C / SIGTERM.
 * At start it indexes the corpus folder (CORPUS_DIR, `--corpus`, or the bundled demo photos); unchanged
 * files are skipped, so a restart is quick. The flags override the environment.
 */
export async function serveCommand(args: string[]): Promise<void> {
  const { values } = parseCommandArgs(
    args,
    { port: { type: 'string' }, host: { type: 'string' }, corpus: { type: 'string' } },
    false,
  );
  const env = { ...process.env };
  if (values.port !== undefined) env.PORT = values.port;
  if (values.host !== undefined) env.HOST = values.host;
  if (values.corpus !== undefined) {
    const corpus = path.resolve(values.corpus);
    if (!fs.statSync(corpus, { throwIfNoEntry: false })?.isDirectory())
      throw new UsageError(`--corpus ${values.corpus}: not a folder`);
    env.CORPUS_DIR = corpus;
  }
  const config = loadConfig(env);
  // Loaded here, not at the top: Express, tsoa and Swagger UI take a second that other commands skip.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gateway = require('@clip-search/gateway') as typeof Gateway;
  await gateway.serveUntilSignal(config);
}
