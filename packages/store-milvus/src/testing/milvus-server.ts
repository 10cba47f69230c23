/**
 * A real Milvus for tests and benchmarks: Milvus 2.3 standalone from the `milvus` package, in the venv
 * that scripts/milvus-server.sh builds at .venv-milvus/, run by tools/milvus/serve.py on free ports with
 * its data in a temporary folder (etcd inside the process, rocksmq and local storage: nothing else to
 * start).
 *
 * The server runs in a process group of its own (the launcher and Milvus under it), so stopping it kills
 * the whole group, like a crash: what Milvus acknowledged must survive it. A restart starts it again on
 * the same folder and ports. Without the venv, `startMilvusServer` says why instead of starting.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { MilvusClient } from '@zilliz/milvus2-sdk-node';

export interface MilvusServerOptions {
  /**
   * Values of Milvus's config by dotted path (`queryNode.segcore.interimIndex.enableIndex: 'false'`),
   * keys of the package's config template only. Default: TEST_SERVER_CONFIG.
   */
  readonly config?: Readonly<Record<string, string>>;
  /** How long one start may take until Milvus answers its health check (default 180 s). */
  readonly readyTimeoutMs?: number;
  /** The repository root (default: found upwards from this file). */
  readonly root?: string;
}

export interface MilvusServer {
  /** `127.0.0.1:<port>`: a MILVUS_ADDRESS. */
  readonly address: string;
  /** The server's data folder (configs, logs, data), removed by close(). */
  readonly dataDir: string;
  /** Milliseconds the last start took, from spawning to a healthy answer. */
  readonly startMs: number;
  /** Kills the whole server (clients see UNAVAILABLE); `restart` brings it back on the same folder and port. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops it for good and removes its data folder; twice is fine. */
  close(): Promise<void>;
}

export type MilvusStart = MilvusServer | { readonly skipped: string };

/**
 * The test server's departures from Milvus's defaults:
 * - Milvus searches the segments still taking writes (all of a small collection) through a temporary IVF
 *   index probed 16 lists deep of 128, whose recall on fresh data is Milvus's, not the store's: here they
 *   are searched exactly, so that what the tests grade is the store's own index (sealed segments).
 * - After a kill -9, the restarted Milvus waits for the killed one's etcd sessions to expire: 10 s
 *   instead of 30 brings a restart down to about 15 s.
 */
export const TEST_SERVER_CONFIG: Readonly<Record<string, string>> = {
  'queryNode.segcore.interimIndex.enableIndex': 'false',
  'common.session.ttl': '10',
};

const VENV = '.venv-milvus';
const LAUNCHER = 'tools/milvus/serve.py';
const SETUP = 'scripts/milvus-server.sh';
/** Milvus's output kept for error messages. */
const LOG_TAIL_CHARS = 8_000;
const GROUP_GONE_MS = 10_000;
const HEALTH_POLL_MS = 250;

/** The repository root: the nearest folder upwards holding pnpm-workspace.yaml. */
function repositoryRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml above ${from}`);
  }
}

/** Why the server cannot start here (no venv, or one whose build did not finish), or undefined. */
export function milvusUnavailable(root = repositoryRoot()): string | undefined {
  if (!existsSync(path.join(root, VENV, 'bin/python')))
    return `no ${VENV}/bin/python (bash ${SETUP} builds it)`;
  if (!existsSync(path.join(root, VENV, '.requirements.sha256')))
    return `${VENV} is incomplete: its build did not finish (bash ${SETUP} rebuilds it)`;
  return undefined;
}

/**
 * Runs scripts/milvus-server.sh (instant when the venv is up to date, about 20 s when not), then says why
 * the server cannot start, as `milvusUnavailable`. Synchronous, so that a test file can decide at load
 * time to report its real-server suites as skipped.
 */
export function prepareMilvusVenv(root = repositoryRoot()): string | undefined {
  const setup = spawnSync('bash', [path.join(root, SETUP)], {
    cwd: root,
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (setup.error !== undefined) return `${SETUP} could not run: ${setup.error.message}`;
  const said = setup.stderr
    .split('\n')
    .filter((line) => line.startsWith('milvus-server:'))
    .join(' | ');
  if (setup.status !== 0) return `${SETUP} failed (exit ${String(setup.status)}): ${said || setup.stderr}`;
  const reason = milvusUnavailable(root);
  return reason === undefined ? undefined : `${reason}${said ? `; ${said}` : ''}`;
}

/** Starts Milvus on a free port and waits until it is healthy; `{ skipped }` when the venv is missing. */
export async function startMilvusServer(options: MilvusServerOptions = {}): Promise<MilvusStart> {
  const root = options.root ?? repositoryRoot();
  const reason = milvusUnavailable(root);
  if (reason !== undefined) return { skipped: `the Milvus server is unavailable: ${reason}` };
  const server = new MilvusProcess(
    root,
    options,
    await freePort(),
    mkdtempSync(path.join(tmpdir(), 'milvus-')),
  );
  try {
    await server.restart();
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}

class MilvusProcess implements MilvusServer {
  startMs = 0;
  private child: ChildProcess | undefined;
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly options: MilvusServerOptions,
    private readonly port: number,
    readonly dataDir: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    if (this.closed) throw new Error('the Milvus server is closed');
    await this.stop();
    const started = Date.now();
    const child = spawn(
      path.join(this.root, VENV, 'bin/python'),
      // The launcher also stops Milvus when this process dies without closing it: its stdin pipe closes.
      [
        path.join(this.root, LAUNCHER),
        '--data',
        this.dataDir,
        '--port',
        String(this.port),
        '--exit-with-stdin',
        ...Object.entries(this.options.config ?? TEST_SERVER_CONFIG).flatMap(([key, value]) => [
          '--set',
          `${key}=${value}`,
        ]),
      ],
      // A process group of its own, led by the launcher: stop() kills all of it.
      { cwd: this.root, detached: true, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child = child;
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise<never>((_, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        reject(new Error(`Milvus exited (${signal ?? `code ${String(code)}`}) before it was healthy`));
      });
    });
    exited.catch(() => undefined);
    const timeoutMs = this.options.readyTimeoutMs ?? 180_000;
    try {
      await Promise.race([waitHealthy(this.address, started + timeoutMs), exited]);
    } catch (error) {
      await this.stop();
      throw new Error(`${(error as Error).message}; its output:\n${output}\n${this.logTail()}`, {
        cause: error,
      });
    }
    this.startMs = Date.now() - started;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    this.child = undefined;
    const group = child.pid;
    signalGroup(group, 'SIGKILL');
    const deadline = Date.now() + GROUP_GONE_MS;
    while (groupAlive(group)) {
      if (Date.now() > deadline)
        throw new Error(`process group ${group} of the Milvus server survives SIGKILL`);
      await sleep(50);
    }
    child.stdin?.destroy();
    child.stdout?.destroy();
    child.stderr?.destroy();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** The end of Milvus's own stderr log, for a start that failed. */
  private logTail(): string {
    try {
      return readFileSync(path.join(this.dataDir, 'logs/milvus-stderr.log'), 'utf8').slice(-LOG_TAIL_CHARS);
    } catch {
      return '';
    }
  }
}

/** Polls Milvus's health check until it says healthy, or throws at `deadline`. */
async function waitHealthy(address: string, deadline: number): Promise<void> {
  const client = new MilvusClient({
    address,
    timeout: 2_000,
    maxRetries: 0,
    logLevel: 'error',
    __SKIP_CONNECT__: true,
  });
  let last = 'no answer yet';
  try {
    while (Date.now() < deadline) {
      try {
        const health = await client.checkHealth();
        if (health.isHealthy) return;
        last = `unhealthy: ${(health.reasons as readonly unknown[]).join('; ')}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await sleep(HEALTH_POLL_MS);
    }
    throw new Error(`Milvus at ${address} is not healthy in time (${last})`);
  } finally {
    await client.closeConnection();
  }
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * Some process of the group still runs. A member that died after its parent is a zombie until init reaps
 * it (which a container's init may never do): it holds no port, so it does not count.
 */
function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
  } catch {
    return false;
  }
  if (!existsSync('/proc/self/stat')) return true;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .some((pid) => {
      try {
        // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so read after the last ')'.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(pgrp) === group && state !== 'Z';
      } catch {
        return false; // gone meanwhile
      }
    });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = await new Promise<net.Server>((resolve, reject) => {
    const listener = net.createServer();
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => {
      resolve(listener);
    });
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
