/**
 * The gateway process: `node gateway/dist/main.js` (or `clip-search serve`). Configuration is
 * the environment (see `clip-search config`); logs are JSON lines on stderr.
 */
import { ClipSearchError, ConfigError } from '@clip-search/contracts';
import { loadConfig } from '@clip-search/config';
import { serveUntilSignal } from './server';

async function main(): Promise<number> {
  try {
    await serveUntilSignal(loadConfig());
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 78; // EX_CONFIG
    }
    if (error instanceof ClipSearchError) {
      process.stderr.write(`gateway: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

main().then(
  (code) => {
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(
      `gateway: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(70);
  },
);
