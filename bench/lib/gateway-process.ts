import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT } from './shared-data';

/** A free TCP port on loopback (closed again; the gateway binds it next). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/**
 * `clip-search serve` in its own process (its memory and CPU apart from the load generator's), on
 * loopback. Its stderr goes to `logFile` when given, else to ours.
 */
export function startGatewayProcess(env: NodeJS.ProcessEnv, port: number, logFile?: string): ChildProcess {
  const stderr = logFile === undefined ? 'inherit' : fs.openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'cli/bin/clip-search.js'), 'serve', '--host', '127.0.0.1', '--port', String(port)],
    { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', stderr] },
  );
  if (typeof stderr === 'number') fs.closeSync(stderr);
  return child;
}

/** Resolves once `/readyz` answers 200; fails if the process exits first or after `timeoutMs`. */
export async function waitReady(base: string, child: ChildProcess, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with code ${child.exitCode}`);
    try {
      const response = await fetch(`${base}/readyz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the gateway did not become ready within ${timeoutMs / 1000} s`);
}

/** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
export async function stopGatewayProcess(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Resident set size of a process in bytes (Linux: VmRSS of /proc/<pid>/status), or undefined. */
export function residentBytes(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}
