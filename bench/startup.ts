/**
 * How long the command line takes to start, and which native code each command drags in: the median wall
 * time of a few cheap commands (spawn to exit; the compiled CLI in cli/dist, so `pnpm build` first), and
 * the native addons (`.node` files) and other shared libraries each one loads. The CLI loads a command's
 * module only when it runs, and each package's entry points load only what they export, so a command pays
 * for what it uses (target: under 200 ms per command).
 *
 *   pnpm bench startup [--runs 10]
 *
 * Native code is recorded by a preload (`node --require`, in one extra run per command, not timed): it
 * wraps `process.dlopen`, through which every `require` of a `.node` file goes, and at exit also reads
 * `/proc/self/maps` (Linux), which sees addons and libraries loaded any other way (a worker thread, a
 * library an addon links, dlopen from native code). The row `node (nothing)` is Node's own floor.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { median, printTable } from './lib/table';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'cli/bin/clip-search.js');

interface StartupCommand {
  readonly label: string;
  /** Arguments of `node`. */
  readonly argv: readonly string[];
}

const COMMANDS: readonly StartupCommand[] = [
  { label: 'node (nothing)', argv: ['-e', ''] },
  { label: 'clip-search search --help', argv: [CLI, 'search', '--help'] },
  { label: 'clip-search tokenize "a photo of a dog"', argv: [CLI, 'tokenize', 'a photo of a dog'] },
  { label: 'clip-search config', argv: [CLI, 'config'] },
];

/** Where the preload writes what it saw; set only in the recording run. */
const REPORT_ENV = 'CLIP_SEARCH_BENCH_NATIVE_REPORT';

/** Plain CommonJS, so that it runs before anything is compiled (it is written to a temporary file). */
const PRELOAD = `'use strict';
const fs = require('node:fs');
const addons = new Set();
const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) {
  addons.add(String(filename));
  return dlopen.call(this, module, filename, ...rest);
};
process.on('exit', () => {
  let mapped = [];
  try {
    mapped = fs
      .readFileSync('/proc/self/maps', 'utf8')
      .split('\\n')
      .map((line) => /\\s(\\/.*)$/.exec(line)?.[1])
      .filter((file) => file !== undefined);
  } catch {
    // Not Linux: the dlopen list alone.
  }
  fs.writeFileSync(process.env.${REPORT_ENV}, JSON.stringify({ addons: [...addons], mapped: [...new Set(mapped)] }));
});
`;

interface RunResult {
  readonly ms: number;
  readonly exitCode: number | null;
  readonly stderr: string;
}

function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, argv, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (exitCode) => {
      resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, exitCode, stderr });
    });
  });
}

interface NativeCode {
  /** `.node` files, as paths below their last node_modules/ (or relative to the repository). */
  readonly addons: readonly string[];
  /** Shared libraries beyond those of `node (nothing)`. */
  readonly libraries: readonly string[];
}

interface PreloadReport {
  readonly addons: readonly string[];
  readonly mapped: readonly string[];
}

/** A path short enough to print: below the last node_modules/, in the repository, or a system file's name. */
function shortPath(file: string): string {
  const marker = '/node_modules/';
  const at = file.lastIndexOf(marker);
  if (at >= 0) return file.slice(at + marker.length);
  return file.startsWith(`${ROOT}/`) ? path.relative(ROOT, file) : path.basename(file);
}

const isAddon = (file: string) => file.endsWith('.node');
const isSharedLibrary = (file: string) => /\.so(\.\d+)*$/.test(file) || file.endsWith('.dylib');

async function recordNativeCode(
  command: StartupCommand,
  dir: string,
  preload: string,
): Promise<PreloadReport & { readonly result: RunResult }> {
  const reportFile = path.join(dir, 'report.json');
  fs.rmSync(reportFile, { force: true });
  const result = await run(['--require', preload, ...command.argv], {
    ...process.env,
    [REPORT_ENV]: reportFile,
  });
  if (!fs.existsSync(reportFile))
    throw new Error(`${command.label}: exited (${result.exitCode}) without a report: ${result.stderr}`);
  const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as PreloadReport;
  return { ...report, result };
}

export default async function startupBench(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { runs: { type: 'string', default: '10' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs: expected a whole number ≥ 1');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clip-search-startup-'));
  try {
    const preload = path.join(dir, 'preload.cjs');
    fs.writeFileSync(preload, PRELOAD);

    // The recording run is also the warm-up: it fills the file system's cache, so timed runs compare
    // loading, not reading from disk.
    const native = new Map<StartupCommand, NativeCode>();
    const exitCodes = new Map<StartupCommand, number | null>();
    const notes: string[] = [];
    let baseline = new Set<string>();
    for (const command of COMMANDS) {
      const report = await recordNativeCode(command, dir, preload);
      const files = [...new Set([...report.addons, ...report.mapped])];
      if (command === COMMANDS[0]) baseline = new Set(files.filter(isSharedLibrary));
      native.set(command, {
        addons: files.filter(isAddon).map(shortPath).sort(),
        libraries: files
          .filter((f) => isSharedLibrary(f) && !baseline.has(f))
          .map(shortPath)
          .sort(),
      });
      exitCodes.set(command, report.result.exitCode);
      if (report.result.exitCode !== 0)
        notes.push(`${command.label} exits ${report.result.exitCode}: ${report.result.stderr.trim()}`);
    }

    // Rounds go through every command in turn, so a burst of load elsewhere on the machine spreads over
    // all of them instead of skewing one.
    const times = new Map<StartupCommand, number[]>(COMMANDS.map((c) => [c, []]));
    for (let round = 0; round < runs; round++)
      for (const command of COMMANDS) times.get(command)?.push((await run(command.argv, process.env)).ms);

    process.stdout.write(`\nWall time of ${runs} runs each (spawn to exit), ms; Node ${process.version}\n\n`);
    printTable(
      ['command', 'median ms', '× node', 'min', 'max', 'exit', '.node addons', 'other shared libs'],
      COMMANDS.map((command) => {
        const ms = times.get(command) ?? [];
        const code = native.get(command);
        return [
          command.label,
          median(ms),
          (median(ms) / median(times.get(COMMANDS[0] as StartupCommand) ?? [])).toFixed(2),
          Math.min(...ms),
          Math.max(...ms),
          String(exitCodes.get(command)),
          code?.addons.length ?? 0,
          code?.libraries.length ?? 0,
        ];
      }),
    );
    for (const command of COMMANDS.slice(1)) {
      const code = native.get(command);
      process.stdout.write(`\n${command.label}:\n`);
      for (const file of code?.addons ?? []) process.stdout.write(`  ${file}\n`);
      if (code !== undefined && code.libraries.length > 0)
        process.stdout.write(`  + ${code.libraries.join(', ')}\n`);
    }
    for (const note of notes) process.stdout.write(`\nnote: ${note}\n`);
    process.stdout.write('\nTarget after the package split: under 200 ms per command.\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
