/**
 * A real Triton for tests and benchmarks: triton-model-repo/cpu-server/server.py (nvidia-pytriton's
 * tritonserver, the towers on ONNX Runtime in Python, the configs of triton-model-repo/) in the venv that
 * scripts/triton-cpu-server.sh builds at .venv-triton/. Where the fixture server imitates Triton, this is
 * Triton: its gRPC front end, its dynamic batcher, its status codes and messages.
 *
 * The server runs in a process group of its own (tritonserver and its Python backend stubs are children of
 * the Python process), so stopping it signals the whole group and waits until none of it is left; a
 * restart binds the same ports. Without the venv, `startPytritonServer` says why instead of starting.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface PytritonServerOptions {
  /** The model folder (model.json and the ONNX files it names) both towers run. */
  readonly modelDir: string;
  /** ONNX Runtime intra-op threads per tower (default 1: tests share two cores). */
  readonly threads?: number;
  /** How long one start may take until the server prints READY (default 180 s). */
  readonly readyTimeoutMs?: number;
  /** The repository root (default: found upwards from this file). */
  readonly root?: string;
}

export interface PytritonServer {
  /** `127.0.0.1:<grpc port>`: a TRITON_URL. */
  readonly url: string;
  readonly ports: { readonly grpc: number; readonly http: number; readonly metrics: number };
  /** Milliseconds the last start took, from spawning to READY. */
  readonly startMs: number;
  /** Brings the whole server down (clients see UNAVAILABLE); `restart` brings it back on the same ports. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops it for good; twice is fine. */
  close(): Promise<void>;
}

export type PytritonStart = PytritonServer | { readonly skipped: string };

const VENV = '.venv-triton';
const SCRIPT = 'triton-model-repo/cpu-server/server.py';
const SETUP = 'scripts/triton-cpu-server.sh';
/** The server's output kept for error messages (tritonserver logs a lot at start). */
const LOG_TAIL_CHARS = 16_000;
const STOP_GRACE_MS = 15_000;
const GROUP_GONE_MS = 10_000;

/** The repository root: the nearest folder upwards holding pnpm-workspace.yaml. */
function repositoryRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml above ${from}`);
  }
}

/** Why the server cannot start here (no venv, or one whose build did not finish), or undefined. */
export function pytritonUnavailable(root = repositoryRoot()): string | undefined {
  const python = path.join(root, VENV, 'bin/python');
  if (!existsSync(python)) return `no ${VENV}/bin/python (bash ${SETUP} builds it)`;
  if (!existsSync(path.join(root, VENV, '.requirements.sha256')))
    return `${VENV} is incomplete: its build did not finish (bash ${SETUP} rebuilds it)`;
  return undefined;
}

/**
 * Runs scripts/triton-cpu-server.sh (instant when the venv is up to date, about a minute when not), then
 * says why the server cannot start, as `pytritonUnavailable`. Synchronous, so that a test file can decide
 * at load time to report its real-server suites as skipped.
 */
export function preparePytritonVenv(root = repositoryRoot()): string | undefined {
  const setup = spawnSync('bash', [path.join(root, SETUP)], {
    cwd: root,
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (setup.error !== undefined) return `${SETUP} could not run: ${setup.error.message}`;
  const said = setup.stderr
    .split('\n')
    .filter((line) => line.startsWith('triton-cpu-server:'))
    .join(' | ');
  if (setup.status !== 0) return `${SETUP} failed (exit ${String(setup.status)}): ${said || setup.stderr}`;
  const reason = pytritonUnavailable(root);
  return reason === undefined ? undefined : `${reason}${said ? `; ${said}` : ''}`;
}

/** Starts the server on free ports and waits for READY; `{ skipped }` when the venv is missing. */
export async function startPytritonServer(options: PytritonServerOptions): Promise<PytritonStart> {
  const root = options.root ?? repositoryRoot();
  const reason = pytritonUnavailable(root);
  if (reason !== undefined) return { skipped: `the CPU Triton server is unavailable: ${reason}` };
  const [grpc, http, metrics] = await freePorts();
  const server = new PytritonProcess(root, options, { grpc, http, metrics });
  await server.restart();
  return server;
}

class PytritonProcess implements PytritonServer {
  startMs = 0;
  private child: ChildProcessWithoutNullStreams | undefined;
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly options: PytritonServerOptions,
    readonly ports: { readonly grpc: number; readonly http: number; readonly metrics: number },
  ) {}

  get url(): string {
    return `127.0.0.1:${this.ports.grpc}`;
  }

  async restart(): Promise<void> {
    if (this.closed) throw new Error('the CPU Triton server is closed');
    await this.stop();
    const args = [
      path.join(this.root, SCRIPT),
      '--model-dir',
      path.resolve(this.options.modelDir),
      '--grpc-port',
      String(this.ports.grpc),
      '--http-port',
      String(this.ports.http),
      '--metrics-port',
      String(this.ports.metrics),
      '--threads',
      String(this.options.threads ?? 1),
      // The server also stops when this process dies without closing it: its stdin pipe closes.
      '--exit-with-stdin',
    ];
    const started = Date.now();
    const child = spawn(path.join(this.root, VENV, 'bin/python'), args, {
      cwd: this.root,
      // A process group of its own, led by the Python process: stop() signals all of it.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
    this.child = child;
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
    };
    child.stderr.on('data', keep);
    const timeoutMs = this.options.readyTimeoutMs ?? 180_000;
    try {
      await new Promise<void>((resolve, reject) => {
        let stdout = '';
        const timer = setTimeout(() => {
          reject(
            new Error(`the CPU Triton server is not ready after ${timeoutMs} ms; its output:\n${output}`),
          );
        }, timeoutMs);
        const done = (error?: Error) => {
          clearTimeout(timer);
          if (error) reject(error);
          else resolve();
        };
        child.stdout.on('data', (chunk: Buffer) => {
          keep(chunk);
          stdout += chunk.toString('utf8');
          if (/^READY grpc=\d+/m.test(stdout)) done();
        });
        child.once('error', done);
        child.once('exit', (code, signal) => {
          done(
            new Error(
              `the CPU Triton server exited (${signal ?? `code ${String(code)}`}) before it was ready; its output:\n${output}`,
            ),
          );
        });
      });
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.startMs = Date.now() - started;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    this.child = undefined;
    const group = child.pid;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => {
        child.once('exit', () => {
          resolve();
        });
      });
      signalGroup(group, 'SIGTERM');
      const timer = sleep(STOP_GRACE_MS);
      await Promise.race([exited, timer.done]);
      timer.cancel();
    }
    // Whatever outlived the Python process (or all of it, past the grace period).
    signalGroup(group, 'SIGKILL');
    const deadline = Date.now() + GROUP_GONE_MS;
    while (groupAlive(group)) {
      if (Date.now() > deadline)
        throw new Error(`process group ${group} of the CPU Triton server survives SIGKILL`);
      await sleep(50).done;
    }
    removeSharedMemory(group);
    child.stdin.destroy();
    child.stdout.destroy();
    child.stderr.destroy();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }
}

/**
 * Triton's Python backend names its shared-memory regions after the PyTriton process (the group's leader):
 * a server killed before it unloaded its models leaves them in /dev/shm.
 */
function removeSharedMemory(leader: number): void {
  if (!existsSync('/dev/shm')) return;
  for (const entry of readdirSync('/dev/shm')) {
    if (entry.startsWith(`pytrtion${leader}-`)) rmSync(path.join('/dev/shm', entry), { force: true });
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

function sleep(ms: number): { done: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return {
    done,
    cancel: () => {
      clearTimeout(timer);
    },
  };
}

/** Three distinct ports that were free a moment ago (held together, so they differ). */
async function freePorts(): Promise<[number, number, number]> {
  const count = 3;
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => {
            resolve(server);
          });
        }),
    ),
  );
  const [grpc, http, metrics] = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  if (grpc === undefined || http === undefined || metrics === undefined) throw new Error('no free ports');
  return [grpc, http, metrics];
}
