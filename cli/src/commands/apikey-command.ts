import {
  API_KEY_NAME,
  API_SCOPES,
  formatApiKeyEntry,
  generateApiKey,
  hashApiKey,
  type ApiScope,
} from '@clip-search/config';
import { parseCommandArgs } from '../args';
import { UsageError } from '../cli-error';
import { API_KEY_VARIABLE } from '../gateway-client';

const USAGE = 'apikey create --name NAME [--scope search|admin] [--json]';

/**
 * `clip-search apikey create --name NAME [--scope search|admin] [--json]`: a new random key, printed this
 * once, and the configuration entry for the server, which holds only the key's SHA-256. The scope
 * defaults to `search`, the smaller one.
 */
export function apikeyCommand(args: string[]): void {
  const [subcommand, ...rest] = args;
  if (subcommand !== 'create')
    throw new UsageError(
      `apikey${subcommand === undefined ? '' : ` ${subcommand}`}: the subcommand is create, as in: clip-search ${USAGE}`,
    );
  const { values } = parseCommandArgs(
    rest,
    { name: { type: 'string' }, scope: { type: 'string' }, json: { type: 'boolean' } },
    false,
  );
  const name = values.name;
  if (name === undefined) throw new UsageError(`apikey create needs --name (clip-search ${USAGE})`);
  if (!API_KEY_NAME.test(name)) throw new UsageError(`--name ${name}: 1-64 characters of A-Z a-z 0-9 . _ -`);
  const scope = values.scope ?? 'search';
  if (!(API_SCOPES as readonly string[]).includes(scope))
    throw new UsageError(`--scope ${scope}: one of ${API_SCOPES.join(', ')}`);
  const key = generateApiKey();
  const entry = formatApiKeyEntry({ name, scope: scope as ApiScope, sha256: hashApiKey(key) });
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify({ name, scope, key, entry }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    [
      `API key "${name}" (scope ${scope}); it is shown only now, the server keeps only its hash:`,
      '',
      `  ${key}`,
      '',
      "Add this entry to the server's API_KEYS (comma-separated) or as a line of API_KEYS_FILE:",
      '',
      `  ${entry}`,
      '',
      `Clients send the key as \`Authorization: Bearer <key>\` or \`X-API-Key: <key>\`; the CLI reads ${API_KEY_VARIABLE}.`,
      '',
    ].join('\n'),
  );
}
