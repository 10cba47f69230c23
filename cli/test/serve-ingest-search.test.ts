import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, PHOTOS, runCli as run, TINY } from './helpers/run-cli';

// Every CLI run is a Node process (the compiled CLI in dist/) loading a model on a shared two-core machine.
jest.setTimeout(180_000);

/** `clip-search serve` in the background; resolves with the URL it logs once listening. */
function serve(
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; url: Promise<string>; exit: Promise<number>; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    cwd: os.tmpdir(),
    env: { ...process.env, CLIP_MODEL_DIR: TINY, LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exit = new Promise<number>((resolve) => {
    child.on('exit', (code) => {
      resolve(code ?? 1);
    });
  });
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /"message":"Listening".*?"url":"(http:[^"]+)"/.exec(stderr);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    void exit.then((code) => {
      reject(new Error(`serve exited with ${code} before listening:\n${stderr}`));
    });
  });
  url.catch(() => undefined); // a test that expects the exit does not wait for the URL
  return { child, url, exit, stderr: () => stderr };
}

/**
 * Waits until the server's backends are open (/readyz 200): the server listens at once and answers 503
 * while the model loads, which takes longer on a busy machine.
 */
async function untilReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(`${url}/readyz`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`${url} not ready after ${timeoutMs} ms (last status ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('clip-search serve, ingest and search', () => {
  let tmp: string;
  let corpus: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clip-cli-serve-'));
    corpus = path.join(tmp, 'photos');
    fs.mkdirSync(corpus);
    for (const photo of ['chelsea.png', 'rocket.jpg', 'moon.png'])
      fs.copyFileSync(path.join(PHOTOS, photo), path.join(corpus, photo));
    fs.writeFileSync(path.join(corpus, 'broken.png'), 'not an image');
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('serve indexes --corpus at start; ingest --wait and search talk to it; SIGTERM stops it cleanly', async () => {
    const extra = path.join(tmp, 'extra');
    fs.mkdirSync(extra);
    fs.copyFileSync(path.join(PHOTOS, 'coffee.png'), path.join(extra, 'coffee.png'));
    const server = serve(['--port', '0', '--corpus', corpus], {
      DATA_DIR: path.join(tmp, 'data'),
      INGEST_ROOTS: extra,
    });
    try {
      const url = await server.url;
      await untilReady(url);
      const ingest = await run(['ingest', extra, '--wait', '--url', url]);
      expect(ingest.stderr).toContain('Indexing: 1/1 (0 skipped, 0 failed)');
      expect(ingest.code).toBe(0);
      expect(JSON.parse(ingest.stdout)).toMatchObject({
        state: 'completed',
        source: `${pathToFileURL(extra).href}/`,
        total: 1,
        processed: 1,
      });

      // The corpus job ran at start (queued before ours: the queue runs one job at a time, in order).
      const search = await run(['search', 'a cat', '-k', '10', '--url', url]);
      expect(search.code).toBe(0);
      const lines = search.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^rank\s+score\s+id\s+uri$/);
      expect(lines).toHaveLength(1 + 4);
      for (const [i, line] of lines.slice(1).entries())
        expect(line).toMatch(new RegExp(`^${i + 1}\\s+-?\\d\\.\\d{4}\\s+[0-9a-f]{32}\\s+file:///`));
      expect(search.stdout).toContain(pathToFileURL(path.join(corpus, 'chelsea.png')).href);
      expect(search.stdout).toContain(pathToFileURL(path.join(extra, 'coffee.png')).href);

      const refused = await run(['ingest', tmp, '--url', url]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/clip-search: .* is outside the folders ingestion may read/);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exit).toBe(0);
  });

  test('ingest and search explain a missing server; bad arguments are usage errors', async () => {
    const missing = await run(['search', 'cat', '--url', 'http://127.0.0.1:9']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no clip-search server at http:\/\/127\.0\.0\.1:9 .*clip-search serve/);
    expect((await run(['search'])).code).toBe(2);
    expect((await run(['search', 'cat', '-k', 'lots'])).code).toBe(2);
    expect((await run(['ingest'])).code).toBe(2);
    expect((await run(['serve', '--corpus', path.join(tmp, 'nope')])).code).toBe(2);
  });

  test('serve exits 1 with the reason when the model cannot be loaded', async () => {
    const server = serve(['--port', '0'], {
      CLIP_MODEL_DIR: path.join(tmp, 'no-model'),
      DATA_DIR: path.join(tmp, 'data2'),
    });
    expect(await server.exit).toBe(1);
    expect(server.stderr()).toMatch(/clip-search: .*no-model/);
  });
});
