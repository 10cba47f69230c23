import { ClipSearchError, ConfigError } from '@clip-search/core';
import { UsageError } from './cli-error';
import { apikeyCommand } from './commands/apikey-command';
import { configCommand } from './commands/config-command';
import { embedCommand } from './commands/embed-command';
import { ingestCommand } from './commands/ingest-command';
import { preprocessCommand } from './commands/preprocess-command';
import { searchCommand } from './commands/search-command';
import { serveCommand } from './commands/serve-command';
import { storeCommand } from './commands/store-command';
import { tokenizeCommand } from './commands/tokenize-command';

const USAGE = `Usage: clip-search <command> [options]

Commands:
  tokenize TEXT                      the 77 token ids the text model receives, as JSON
  preprocess IMAGE --out FILE        the float32 little-endian [3,S,S] tensor the vision model receives
  embed (--text TEXT | --image PATH) an L2-normalized embedding, as JSON
  config                             the environment variables, defaults and meaning (Markdown)
  serve [--port N] [--corpus DIR]    the HTTP API (docs at /docs); indexes the corpus folder at start
  ingest SOURCE [--wait] [--sweep]   index a folder (file:///dir or a path) through a running server
  search TEXT [-k N] [--json]        search a running server; prints rank, score, id, uri
  store check | store recover        check the vector store for damage; salvage a damaged one (server stopped)
  apikey create --name NAME [--scope search|admin]
                                     a new API key (shown once) and the API_KEYS entry with its hash

Options for every model command: --model-dir DIR (or CLIP_MODEL_DIR) selects a local model folder.
ingest and search talk to the server at --url (default http://127.0.0.1:$PORT), with the API key in
CLIP_SEARCH_API_KEY when the server needs one.
`;

type Command = (args: string[]) => Promise<void> | void;

const COMMANDS: Readonly<Record<string, Command>> = {
  tokenize: tokenizeCommand,
  preprocess: preprocessCommand,
  embed: embedCommand,
  config: configCommand,
  serve: serveCommand,
  ingest: ingestCommand,
  search: searchCommand,
  store: storeCommand,
  apikey: apikeyCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) throw new UsageError(`unknown command '${name}' (try --help)`);
  await command(args);
  return 0;
}

/** Bad input gets one line on stderr and a non-zero exit; a stack trace only for real bugs. */
function report(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`clip-search: ${error.message}\n`);
    return 2;
  }
  if (error instanceof ConfigError) {
    process.stderr.write(`clip-search: invalid configuration: ${error.problems.join('; ')}\n`);
    return 78; // EX_CONFIG
  }
  if (error instanceof ClipSearchError) {
    process.stderr.write(`clip-search: ${error.message.replace(/\n/g, ' ')}\n`);
    return 1;
  }
  process.stderr.write(
    `clip-search: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return 70; // EX_SOFTWARE
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = report(error);
  },
);
