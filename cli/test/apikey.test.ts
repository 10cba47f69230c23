import { createHash } from 'node:crypto';
import { loadConfig } from '@clip-search/config';
import { startTestServer } from '../../gateway/test/helpers/gateway-harness';
import { runCli as run } from './helpers/run-cli';

// Each case starts a Node process that compiles the CLI (tsx): allow for a busy machine.
jest.setTimeout(180_000);

interface Created {
  name: string;
  scope: string;
  key: string;
  entry: string;
}

describe('clip-search apikey', () => {
  test('create prints a new key once and the API_KEYS entry holding its SHA-256', async () => {
    const json = await run(['apikey', 'create', '--name', 'web', '--scope', 'admin', '--json']);
    expect(json.code).toBe(0);
    const created = JSON.parse(json.stdout) as Created;
    expect(created).toMatchObject({ name: 'web', scope: 'admin' });
    expect(created.key).toMatch(/^csk_[A-Za-z0-9_-]{43}$/);
    const sha256 = createHash('sha256').update(created.key).digest('hex');
    expect(created.entry).toBe(`web:admin:${sha256}`);
    // The entry is what the server takes, even on a public bind.
    expect(loadConfig({ HOST: '0.0.0.0', API_KEYS: created.entry }).auth).toEqual({
      mode: 'keys',
      keys: [{ name: 'web', scope: 'admin', sha256 }],
    });

    const text = await run(['apikey', 'create', '--name', 'reader']);
    expect(text.code).toBe(0);
    const key = /^\s+(csk_\S+)$/m.exec(text.stdout)?.[1];
    const entry = /^\s+(reader:search:[0-9a-f]{64})$/m.exec(text.stdout)?.[1];
    expect(entry).toBe(
      `reader:search:${createHash('sha256')
        .update(key ?? '')
        .digest('hex')}`,
    );
    expect(text.stdout).toContain('CLIP_SEARCH_API_KEY');
  });

  test('usage mistakes: one line on stderr, exit 2', async () => {
    const runs = await Promise.all(
      [
        ['apikey'],
        ['apikey', 'delete'],
        ['apikey', 'create'],
        ['apikey', 'create', '--name', 'has space'],
        ['apikey', 'create', '--name', 'web', '--scope', 'root'],
      ].map((args) => run(args)),
    );
    for (const { code, stdout, stderr } of runs) {
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^clip-search: /);
    }
  });

  test('search sends CLIP_SEARCH_API_KEY; without it the server says so', async () => {
    const created = JSON.parse(
      (await run(['apikey', 'create', '--name', 'cli', '--json'])).stdout,
    ) as Created;
    const server = await startTestServer({ API_KEYS: created.entry });
    try {
      await server.running.ready;
      const refused = await run(['search', 'a cat', '--url', server.url]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/API key.*CLIP_SEARCH_API_KEY/);
      const wrong = await run(['search', 'a cat', '--url', server.url], {
        CLIP_SEARCH_API_KEY: 'csk_wrong',
      });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/check CLIP_SEARCH_API_KEY/);
      const found = await run(['search', 'a cat', '--json', '--url', server.url], {
        CLIP_SEARCH_API_KEY: created.key,
      });
      expect(found.code).toBe(0);
      expect(JSON.parse(found.stdout)).toMatchObject({ results: [] });
    } finally {
      await server.close();
    }
  });

  test('serve on a public address without keys exits 78 and says what to set', async () => {
    const { code, stderr } = await run(['serve', '--host', '0.0.0.0', '--port', '0']);
    expect(code).toBe(78);
    expect(stderr).toMatch(/HOST=0\.0\.0\.0.*API_KEYS.*AUTH=none/);
  });
});
