import { createHash, randomBytes } from 'node:crypto';

/**
 * What a key may do. `search` reads (search, items, thumbnails, stats, jobs); `admin` also writes
 * (ingest, delete items, cancel jobs).
 */
export const API_SCOPES = ['search', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** One configured key: a name for logs and rate limits, its scope, and the SHA-256 of the key (hex). */
export interface ApiKeyEntry {
  readonly name: string;
  readonly scope: ApiScope;
  /** 64 lowercase hex digits; the key itself is never stored. */
  readonly sha256: string;
}

/** Names end up in logs and in `key:<name>` client ids: short, printable, no separators. */
export const API_KEY_NAME = /^[A-Za-z0-9._-]{1,64}$/;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The scopes a key of `scope` holds: admin implies search. */
export function scopesOf(scope: ApiScope): readonly ApiScope[] {
  return scope === 'admin' ? ['admin', 'search'] : ['search'];
}

/**
 * The SHA-256 of a key, hex. A fast unsalted hash is right here (no bcrypt): keys are 256 random bits,
 * not passwords, so there is no dictionary to try, and a slow hash would only slow every request.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new random key: 256 bits, base64url, with a prefix that secret scanners and people recognise. */
export function generateApiKey(): string {
  return `csk_${randomBytes(32).toString('base64url')}`;
}

/** The configuration entry of a key: `<name>:<scope>:<sha256-hex>`. */
export function formatApiKeyEntry(entry: ApiKeyEntry): string {
  return `${entry.name}:${entry.scope}:${entry.sha256}`;
}

/**
 * Parses `<name>:<scope>:<sha256-hex>` entries (from API_KEYS or the lines of API_KEYS_FILE). Every bad
 * entry is reported, by position and name, never by its hash. Names and hashes must be unique: a name is
 * a client's identity, and two names for one key would make it ambiguous which one is calling.
 */
export function parseApiKeyEntries(lines: readonly { readonly source: string; readonly text: string }[]): {
  readonly keys: ApiKeyEntry[];
  readonly problems: string[];
} {
  const keys: ApiKeyEntry[] = [];
  const problems: string[] = [];
  for (const { source, text } of lines) {
    const parts = text.trim().split(':');
    const [name, scope, hash] = parts.map((p) => p.trim());
    const what = `${source} (${JSON.stringify(name ?? '')})`;
    if (parts.length !== 3 || name === undefined || scope === undefined || hash === undefined) {
      problems.push(`${source}: expected <name>:<scope>:<sha256-hex> (see \`clip-search apikey create\`)`);
      continue;
    }
    if (!API_KEY_NAME.test(name))
      problems.push(`${what}: the name must be 1-64 characters of A-Z a-z 0-9 . _ -`);
    else if (!(API_SCOPES as readonly string[]).includes(scope))
      problems.push(`${what}: the scope must be one of ${API_SCOPES.join(', ')}`);
    else if (!SHA256_HEX.test(hash.toLowerCase()))
      problems.push(`${what}: the hash must be 64 hex digits (the SHA-256 of the key, not the key)`);
    else if (keys.some((k) => k.name === name)) problems.push(`${what}: the name is used twice`);
    else if (keys.some((k) => k.sha256 === hash.toLowerCase()))
      problems.push(`${what}: the same key is configured twice`);
    else keys.push({ name, scope: scope as ApiScope, sha256: hash.toLowerCase() });
  }
  return { keys, problems };
}
