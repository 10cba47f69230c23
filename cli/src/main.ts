import { ClipSearchError, ConfigError } from '@clip-search/contracts';
import { UsageError } from './cli-error';

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

/**
 * Each command's module is loaded when it runs, not before: `search` and `--help` only talk HTTP or print,
 * and must not pay for loading ONNX Runtime, sharp, SQLite or Express (see `pnpm bench startup`).
 */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  tokenize: async () => (await import('./commands/tokenize-command.js')).tokenizeCommand,
  preprocess: async () => (await import('./commands/preprocess-command.js')).preprocessCommand,
  embed: async () => (await import('./commands/embed-command.js')).embedCommand,
  config: async () => (await import('./commands/config-command.js')).configCommand,
  serve: async () => (await import('./commands/serve-command.js')).serveCommand,
  ingest: async () => (await import('./commands/ingest-command.js')).ingestCommand,
  search: async () => (await import('./commands/search-command.js')).searchCommand,
  store: async () => (await import('./commands/store-command.js')).storeCommand,
  apikey: async () => (await import('./commands/apikey-command.js')).apikeyCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) throw new UsageError(`unknown command '${name}' (try --help)`);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(commandUsage(name));
    return 0;
  }
  const command = await load();
  await command(args);
  return 0;
}

/** `clip-search COMMAND --help`: the command's lines of the usage, and the notes that apply to all. */
function commandUsage(name: string): string {
  const lines = USAGE.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`  ${name} `) || line === `  ${name}`);
  const own = [lines[start] ?? ''];
  for (const line of lines.slice(start + 1)) {
    if (!/^ {6,}/.test(line)) break; // a continuation line is indented past the command column
    own.push(line);
  }
  const notes = lines.slice(lines.findIndex((line) => line.startsWith('Options for every')));
  return ['Usage: clip-search ' + (own[0] ?? '').trim(), ...own.slice(1), '', ...notes].join('\n');
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
