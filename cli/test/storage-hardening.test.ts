import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEmbeddedVectorStore } from '@clip-search/store-embedded';
import { damageLeafPages, distinctItems } from '@clip-search/store-embedded/testing';
import { ROOT, runCli as run, TINY, type CliRun } from './helpers/run-cli';

// Each case starts a Node process that compiles the CLI (tsx) and loads a model: allow for a busy machine.
jest.setTimeout(180_000);

/** The gateway's own entry point (what deployments run, compiled: `node gateway/dist/main.js`), from source. */
function runGatewayMain(env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', path.join(ROOT, 'gateway/src/main.ts')],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json'),
          CLIP_MODEL_DIR: TINY,
          PORT: '0',
          ...env,
        },
      },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr });
      },
    );
  });
}

describe('clip-search serve on an unusable DATA_DIR', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clip-cli-data-dir-'));
    fs.writeFileSync(path.join(tmp, 'a-file'), '');
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('exits 78 with one line naming DATA_DIR, the path and what is wrong', async () => {
    // We may run as root, whom permission bits do not stop: a path under a file, and /proc, stop anyone.
    const cases: [string, string][] = [
      [path.join(tmp, 'a-file', 'data'), `${path.join(tmp, 'a-file')} is not a folder`],
      [`/proc/clip-search-${randomUUID()}/data`, 'cannot create /proc/clip-search-'],
      ['/proc', 'not writable ('],
    ];
    const runs = await Promise.all(
      cases.map(([dataDir]) => run(['serve', '--port', '0'], { DATA_DIR: dataDir })),
    );
    for (const [index, { code, stderr }] of runs.entries()) {
      const [dataDir, problem] = cases[index] ?? ['', ''];
      expect({ dataDir, code }).toEqual({ dataDir, code: 78 });
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toContain(`clip-search: invalid configuration: DATA_DIR=${dataDir}: ${problem}`);
    }
    const gateway = await runGatewayMain({ DATA_DIR: path.join(tmp, 'a-file') });
    expect(gateway.code).toBe(78);
    expect(gateway.stderr).toContain(`DATA_DIR=${path.join(tmp, 'a-file')}: `);
    expect(gateway.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe('a damaged store: serve refuses it, store check finds it, store recover salvages it', () => {
  const DIM = 512; // tiny-clip's
  const COUNT = 1_000;
  let dataDir: string;
  let vectors: string;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clip-cli-store-'));
    vectors = path.join(dataDir, 'vectors');
    const items = distinctItems(COUNT, DIM, 'tiny-clip');
    const store = await openEmbeddedVectorStore({ dir: vectors, dim: DIM, modelId: 'tiny-clip' });
    await store.upsert(items);
    await store.close();
    damageLeafPages(path.join(vectors, 'store.db'), 'items', 3);
  });
  afterAll(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('end to end', async () => {
    const env = { DATA_DIR: dataDir };
    const file = path.join(vectors, 'store.db');
    const served = await run(['serve', '--port', '0'], env);
    expect(served.code).toBe(1);
    const last = served.stderr.trim().split('\n').at(-1) ?? '';
    expect(last).toContain(`clip-search: vector store file ${file} is damaged`);
    expect(last).toContain(`clip-search store recover --store ${vectors}`);

    const damaged = await run(['store', 'check'], env);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain(`${file} is damaged`);

    const recovered = await run(['store', 'recover', '--json'], env);
    expect(recovered.code).toBe(0);
    const report = JSON.parse(recovered.stdout) as { recovered: number; damagedFile: string };
    expect(report.recovered).toBeLessThan(COUNT);
    expect(report.recovered).toBeGreaterThan(COUNT / 2);
    expect(fs.existsSync(report.damagedFile)).toBe(true);

    const healthy = await run(['store', 'check', '--store', vectors], {});
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toMatch(/store\.db: ok \(quick_check, \d+ ms\)\n$/);
    const again = await run(['store', 'recover'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('not damaged');
  });

  test('usage mistakes exit 2', async () => {
    const runs = await Promise.all([
      run(['store']),
      run(['store', 'mend']),
      run(['store', 'recover', '--dim', 'x']),
    ]);
    for (const { code, stderr } of runs) {
      expect(code).toBe(2);
      expect(stderr).toMatch(/^clip-search: (store|--dim)/);
    }
  });
});
