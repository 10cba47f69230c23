import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatApiKeyEntry, generateApiKey, hashApiKey, parseApiKeyEntries, scopesOf } from '../src/api-keys';
import { isLoopbackHost, loadConfig } from '../src/config';
import { ConfigError } from '@clip-search/contracts';

const HASH = 'ab'.repeat(32);

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig(${JSON.stringify(env)}) did not fail`);
}

describe('API key entries', () => {
  test('a generated key is 256 random bits; its entry holds the SHA-256 only', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^csk_[A-Za-z0-9_-]{43}$/);
    expect(generateApiKey()).not.toBe(key);
    const sha256 = hashApiKey(key);
    expect(sha256).toBe(createHash('sha256').update(key).digest('hex'));
    const entry = formatApiKeyEntry({ name: 'web', scope: 'search', sha256 });
    expect(entry).toBe(`web:search:${sha256}`);
    expect(entry).not.toContain(key);
    expect(parseApiKeyEntries([{ source: 'x', text: entry }])).toEqual({
      keys: [{ name: 'web', scope: 'search', sha256 }],
      problems: [],
    });
  });

  test('admin implies search', () => {
    expect(scopesOf('admin')).toEqual(expect.arrayContaining(['admin', 'search']));
    expect(scopesOf('search')).toEqual(['search']);
  });

  test('every bad entry is reported, by position and never by hash', () => {
    const { keys, problems } = parseApiKeyEntries(
      [
        ` web : search : ${HASH.toUpperCase()} `, // spaces and upper-case hex are fine
        'no-colons',
        `bad name:search:${HASH}`,
        `x:root:${HASH}`,
        'y:admin:not-a-hash',
        `web:admin:${'cd'.repeat(32)}`, // name used twice
        `z:admin:${HASH}`, // same key twice
        `a:b:c:${HASH}`,
      ].map((text, i) => ({ source: `API_KEYS entry ${i + 1}`, text })),
    );
    expect(keys).toEqual([{ name: 'web', scope: 'search', sha256: HASH }]);
    expect(problems).toHaveLength(7);
    for (const [i, problem] of problems.entries()) expect(problem).toContain(`entry ${i + 2}`);
    expect(problems.join('\n')).not.toContain(HASH);
  });
});

describe('authentication and rate-limit configuration', () => {
  test('loopback addresses', () => {
    for (const host of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      'localhost',
      '::ffff:127.0.0.1',
    ])
      expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: true });
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.org', '::ffff:10.0.0.1', '128.0.0.1'])
      expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: false });
  });

  test('keys are off by default on loopback, and on as soon as one is configured', () => {
    expect(loadConfig({}).auth).toEqual({ mode: 'none', keys: [] });
    expect(loadConfig({ API_KEYS: `web:search:${HASH}` }).auth).toEqual({
      mode: 'keys',
      keys: [{ name: 'web', scope: 'search', sha256: HASH }],
    });
  });

  test('a non-loopback bind without keys refuses to start, unless AUTH=none says so', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3']) {
      const error = configError({ HOST: host });
      expect(error.problems).toHaveLength(1);
      expect(error.message).toContain(`HOST=${host}`);
      expect(error.message).toContain('API_KEYS');
      expect(error.message).toContain('AUTH=none');
    }
    expect(loadConfig({ HOST: '0.0.0.0', AUTH: 'none' }).auth.mode).toBe('none');
    expect(loadConfig({ HOST: '0.0.0.0', API_KEYS: `web:admin:${HASH}` }).auth.mode).toBe('keys');
  });

  test('AUTH=keys needs keys; AUTH=none with keys is a contradiction', () => {
    expect(configError({ AUTH: 'keys' }).message).toContain('AUTH=keys');
    expect(loadConfig({ AUTH: 'keys', API_KEYS: `web:search:${HASH}` }).auth.mode).toBe('keys');
    expect(configError({ AUTH: 'none', API_KEYS: `web:search:${HASH}` }).message).toContain('AUTH=none');
    expect(configError({ AUTH: 'sometimes' }).message).toContain('AUTH');
  });

  test('API_KEYS_FILE: one entry per line, comments and blank lines skipped, added to API_KEYS', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clip-keys-'));
    try {
      const file = path.join(dir, 'keys');
      fs.writeFileSync(file, `# the web front end\nweb:search:${HASH}\n\r\nops:admin:${'cd'.repeat(32)}\r\n`);
      const { auth } = loadConfig({ API_KEYS_FILE: file, API_KEYS: `cli:admin:${'ef'.repeat(32)}` });
      expect(auth.keys.map((k) => `${k.name}:${k.scope}`)).toEqual(['cli:admin', 'web:search', 'ops:admin']);

      fs.writeFileSync(file, `web:search:${HASH}\nbroken\n`);
      expect(configError({ API_KEYS_FILE: file }).message).toContain('API_KEYS_FILE line 2');
      expect(configError({ API_KEYS_FILE: path.join(dir, 'missing') }).message).toMatch(
        /API_KEYS_FILE=.*cannot read/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('rate limits and TRUST_PROXY are parsed, and bad values listed', () => {
    const config = loadConfig({
      RATE_LIMIT_SEARCH_PER_SECOND: '2.5',
      RATE_LIMIT_SEARCH_BURST: '5',
      RATE_LIMIT_INGEST_PER_SECOND: '0',
      TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::1',
    });
    expect(config.rateLimits).toEqual({
      search: { perSecond: 2.5, burst: 5 },
      ingest: { perSecond: 0, burst: 10 },
    });
    expect(config.server.trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::1']);
    expect(loadConfig({}).server.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).server.trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).server.trustProxy).toBe(2);
    const error = configError({
      RATE_LIMIT_SEARCH_PER_SECOND: '-1',
      RATE_LIMIT_INGEST_BURST: '0',
      TRUST_PROXY: '10.0.0.0/33, nginx',
    });
    expect(error.problems).toHaveLength(3);
    expect(error.message).toContain('nginx');
  });
});
