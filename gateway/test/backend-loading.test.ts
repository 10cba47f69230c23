/**
 * A gateway loads only the adapters its configuration picks. Configured for Triton (here the KServe
 * fixture server, in a process of its own as Triton would be) with a store and queue that are not the
 * embedded ones, the gateway process must never load ONNX Runtime, hnswlib or SQLite: a distributed
 * deployment's image need not even ship them. The embedded default is run the same way as the control
 * that shows the report does see those modules when they are loaded.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const TINY_CLIP = path.join(ROOT, 'fixtures/models/tiny-clip');
const CHILD = path.join(__dirname, 'fixtures/backend-loading-child.ts');
// Sources through tsx, every @clip-search/* package through its "source" export, decorators through the
// repository's tsconfig: the same code Jest runs, in a plain Node process.
const TS_CHILD = { execArgv: ['--conditions=source', '--import', 'tsx'], cwd: ROOT };
const TS_ENV = { ...process.env, TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json') };

/** The native modules this test watches, by their package (require.cache) and their binary (dlopen). */
const NATIVE = [
  { name: 'onnxruntime-node', module: /[/\\]onnxruntime-node[/\\]/, binary: /onnxruntime/ },
  { name: 'hnswlib-node', module: /[/\\]hnswlib-node[/\\]/, binary: /hnswlib/ },
  { name: 'better-sqlite3', module: /[/\\]better-sqlite3[/\\]/, binary: /better_sqlite3/ },
] as const;

interface ChildReport {
  readonly status: number;
  readonly hits: number;
  readonly stats: { readonly embedderBackend?: string; readonly storeKind?: string };
  readonly modules: string[];
  readonly sharedObjects: string[];
}

/** Runs a child and resolves with its one IPC message (rejects with its stderr when it fails). */
function run<T>(
  file: string,
  args: string[],
  options: Parameters<typeof fork>[2],
): { child: ChildProcess; message: Promise<T> } {
  const child = fork(file, args, { ...options, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const message = new Promise<T>((resolve, reject) => {
    child.once('message', (value) => {
      resolve(value as T);
    });
    child.once('exit', (code) => {
      reject(new Error(`${path.basename(file)} exited (${String(code)}): ${stderr}`));
    });
  });
  return { child, message };
}

function loaded(report: ChildReport, native: (typeof NATIVE)[number]): boolean {
  return (
    report.modules.some((file) => native.module.test(file)) ||
    report.sharedObjects.some((file) => native.binary.test(path.basename(file)))
  );
}

describe('which backends a gateway process loads', () => {
  let work: string;
  let corpus: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'clip-search-loading-'));
    corpus = path.join(work, 'corpus');
    await cp(path.join(ROOT, 'demo/photos'), corpus, { recursive: true });
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('on Triton with a non-embedded store and queue: no ONNX Runtime, hnswlib or SQLite', async () => {
    const fixture = run<{ url: string }>(
      require.resolve('@clip-search/kserve-fixture/serve-process'),
      [path.join(TINY_CLIP, 'vision.onnx'), path.join(TINY_CLIP, 'text.onnx'), '8', '1'],
      { ...TS_CHILD, env: TS_ENV },
    );
    try {
      const { url } = await fixture.message;
      const gateway = run<ChildReport>(CHILD, ['triton', path.join(work, 'triton-data'), corpus, url], {
        ...TS_CHILD,
        env: TS_ENV,
      });
      const report = await gateway.message;
      expect(report.status).toBe(200);
      expect(report.hits).toBeGreaterThan(0);
      expect(report.stats).toMatchObject({ embedderBackend: 'triton', storeKind: 'memory' });
      expect(NATIVE.filter((native) => loaded(report, native)).map((native) => native.name)).toEqual([]);
    } finally {
      fixture.child.send('stop');
    }
  }, 120_000);

  test('the embedded default loads all three (the report sees native modules)', async () => {
    const gateway = run<ChildReport>(CHILD, ['embedded', path.join(work, 'embedded-data'), corpus], {
      ...TS_CHILD,
      env: TS_ENV,
    });
    const report = await gateway.message;
    expect(report.hits).toBeGreaterThan(0);
    expect(NATIVE.filter((native) => loaded(report, native)).map((native) => native.name)).toEqual(
      NATIVE.map((native) => native.name),
    );
  }, 120_000);
});
