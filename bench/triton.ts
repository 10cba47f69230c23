/**
 * What the gRPC path costs: images/s and text queries/s through TritonInferenceBackend → KServe v2 → a
 * server in another process, against ONNX Runtime in-process on the same model and thread count, batch
 * sizes 1, 8 and 32, side by side in one run. Two servers:
 *   - the fixture server (packages/kserve-fixture: grpc-js and onnxruntime-node), the protocol alone;
 *   - a real Triton: tritonserver 2.51 from nvidia-pytriton (triton-model-repo/cpu-server/, the towers on
 *     ONNX Runtime in Python behind Triton's Python backend, the configs of triton-model-repo/), when
 *     .venv-triton/ exists (bash scripts/triton-cpu-server.sh); its rows are left out with a note otherwise.
 *
 *   pnpm bench triton [--model-dir DIR] [--threads N] [--seconds S] [--batches 1,8,32] [--text-length T]
 *
 * Default model: tiny-clip (fixtures/models). For real CLIP ViT-B/32 speed, generate the full-size
 * synthetic model with ../shared/tools/make-synthetic-clip --size vit-b-32 --out DIR and pass
 * --model-dir DIR. On this CPU-only machine every server computes with ONNX Runtime on the same cores, so
 * the ratios show each path's overhead (serialization, copies, a loopback hop; for PyTriton also the
 * Python backend's shared-memory hand-off to the callable's process), not a GPU's speed-up.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { OnnxInferenceBackend } from '@clip-search/embedder-onnx';
import { resolveModelDir } from '@clip-search/clip';
import { tritonConfig, TritonInferenceBackend } from '@clip-search/embedder-triton';
import { type PytritonServer, startPytritonServer } from '@clip-search/kserve-fixture';
import { type InferenceBackend, type ResolvedModel } from '@clip-search/contracts';
import { seededRandom } from '@clip-search/contracts/testing';

const ROOT = path.resolve(__dirname, '..');
const TINY_CLIP = path.join(ROOT, 'fixtures/models/tiny-clip');

export interface TritonBenchOptions {
  readonly modelDir: string;
  /** ONNX Runtime intra-op threads, for both sides. */
  readonly threads: number;
  /** Measuring time per cell (at least 3 calls each). */
  readonly seconds: number;
  readonly batches: readonly number[];
  /** Tokens per text row (a typical query is 8–20 with SOT and EOT). */
  readonly textLength: number;
}

/** Calls per second of one path, and what it adds per call over ONNX Runtime in-process. */
export interface PathSpeed {
  readonly perSecond: number;
  readonly addedMsPerCall: number;
}

export interface TritonBenchRow {
  readonly batch: number;
  readonly images: { readonly ort: number; readonly fixture: PathSpeed; readonly triton?: PathSpeed };
  readonly texts: { readonly ort: number; readonly fixture: PathSpeed; readonly triton?: PathSpeed };
}

export interface TritonBenchResult {
  readonly rows: TritonBenchRow[];
  /** Why the real Triton rows are missing, when they are. */
  readonly tritonSkipped?: string;
  /** Seconds the real Triton took from spawn to ready. */
  readonly tritonStartSeconds?: number;
}

/** Calls `call` for at least `seconds` (and 3 times), after one warm-up; returns mean seconds per call. */
async function timeCalls(call: () => Promise<unknown>, seconds: number): Promise<number> {
  await call();
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (calls < 3 || elapsed < seconds) {
    await call();
    calls++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return elapsed / calls;
}

function pixelsOf(count: number, size: number): Float32Array {
  const random = seededRandom(count);
  return Float32Array.from({ length: count * 3 * size * size }, () => random() * 4 - 2);
}

function tokensOf(count: number, length: number): BigInt64Array {
  const random = seededRandom(1000 + count);
  const ids = new BigInt64Array(count * length);
  for (let r = 0; r < count; r++) {
    ids[r * length] = 49406n;
    for (let i = 1; i < length - 1; i++) ids[r * length + i] = BigInt(1 + Math.floor(random() * 49000));
    ids[r * length + length - 1] = 49407n;
  }
  return ids;
}

interface ServerProcess {
  readonly url: string;
  stop(): Promise<void>;
}

async function startServer(
  model: ResolvedModel,
  maxBatchSize: number,
  threads: number,
): Promise<ServerProcess> {
  const child = fork(
    require.resolve('@clip-search/kserve-fixture/serve-process'),
    [model.visionPath, model.textPath, String(maxBatchSize), String(threads)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: { url: string }) => {
      resolve(message.url);
    });
    child.once('exit', (code) => {
      reject(new Error(`the server process exited (${String(code)})`));
    });
  });
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => {
          resolve();
        });
        child.send('stop');
      }),
  };
}

export async function run(options: TritonBenchOptions): Promise<TritonBenchResult> {
  const model = await resolveModelDir(options.modelDir);
  const { size } = model.manifest.image;
  const largest = Math.max(...options.batches);
  const connect = (url: string) =>
    TritonInferenceBackend.connect(
      tritonConfig({ url, maxInFlight: 1, inferDeadlineMs: 600_000, connectTimeoutMs: 60_000 }),
      model.manifest,
    );
  const fixtureServer = await startServer(model, largest, options.threads);
  let tritonServer: PytritonServer | undefined;
  let tritonSkipped: string | undefined;
  const open: InferenceBackend[] = [];
  try {
    const started = await startPytritonServer({ modelDir: options.modelDir, threads: options.threads });
    if ('skipped' in started) tritonSkipped = started.skipped;
    else tritonServer = started;
    const ort = await OnnxInferenceBackend.load(model, { threads: options.threads, maxBatchSize: largest });
    open.push(ort);
    const fixture = await connect(fixtureServer.url);
    open.push(fixture);
    const triton = tritonServer ? await connect(tritonServer.url) : undefined;
    if (triton) open.push(triton);

    const rows: TritonBenchRow[] = [];
    for (const batch of options.batches) {
      const pixels = { data: pixelsOf(batch, size), count: batch, size };
      const tokens = { ids: tokensOf(batch, options.textLength), count: batch, length: options.textLength };
      const measure = async (run: (b: InferenceBackend) => Promise<unknown>) => {
        const ortSeconds = await timeCalls(() => run(ort), options.seconds);
        const speed = async (backend: InferenceBackend): Promise<PathSpeed> => {
          const seconds = await timeCalls(() => run(backend), options.seconds);
          return { perSecond: batch / seconds, addedMsPerCall: (seconds - ortSeconds) * 1000 };
        };
        const fixtureSpeed = await speed(fixture);
        const tritonSpeed = triton ? await speed(triton) : undefined;
        return {
          ort: batch / ortSeconds,
          fixture: fixtureSpeed,
          ...(tritonSpeed === undefined ? {} : { triton: tritonSpeed }),
        };
      };
      rows.push({
        batch,
        images: await measure((b) => b.runVision(pixels)),
        texts: await measure((b) => b.runText(tokens)),
      });
    }
    return {
      rows,
      ...(tritonSkipped === undefined ? {} : { tritonSkipped }),
      ...(tritonServer === undefined ? {} : { tritonStartSeconds: tritonServer.startMs / 1000 }),
    };
  } finally {
    for (const backend of open) await backend.close();
    await tritonServer?.close();
    await fixtureServer.stop();
  }
}

export function formatTables(result: TritonBenchResult): string {
  const f = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
  const cells = (speed: PathSpeed | undefined, ort: number) =>
    speed === undefined
      ? '— | — | —'
      : `${f(speed.perSecond)} | ${(speed.perSecond / ort).toFixed(2)} | ${speed.addedMsPerCall.toFixed(2)}`;
  const table = (title: string, pick: (r: TritonBenchRow) => TritonBenchRow['images']) => {
    const lines = [
      title,
      '',
      '| batch | ORT in-process | KServe fixture (grpc-js) | ÷ ORT | +ms/call | Triton 2.51 (PyTriton, CPU) | ÷ ORT | +ms/call |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ];
    for (const r of result.rows) {
      const speeds = pick(r);
      lines.push(
        `| ${r.batch} | ${f(speeds.ort)} | ${cells(speeds.fixture, speeds.ort)} | ${cells(speeds.triton, speeds.ort)} |`,
      );
    }
    return lines.join('\n');
  };
  const notes = [
    result.tritonSkipped === undefined
      ? `Triton ready ${result.tritonStartSeconds?.toFixed(1) ?? '?'} s after spawn (not measured in the tables).`
      : `Triton rows skipped: ${result.tritonSkipped}.`,
  ];
  return [table('images/s', (r) => r.images), table('texts/s', (r) => r.texts), notes.join('\n')].join(
    '\n\n',
  );
}

export default async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'model-dir': { type: 'string', default: TINY_CLIP },
      threads: { type: 'string', default: '1' },
      seconds: { type: 'string', default: '3' },
      batches: { type: 'string', default: '1,8,32' },
      'text-length': { type: 'string', default: '16' },
    },
  });
  const options: TritonBenchOptions = {
    modelDir: path.resolve(values['model-dir']),
    threads: Number(values.threads),
    seconds: Number(values.seconds),
    batches: values.batches.split(',').map(Number),
    textLength: Number(values['text-length']),
  };
  process.stdout.write(
    `Triton adapter over KServe v2 gRPC (servers in other processes) vs ONNX Runtime in-process\n` +
      `model ${options.modelDir}, ${options.threads} intra-op thread(s) each, ≥${options.seconds}s per cell, ` +
      `text rows of ${options.textLength} tokens, one call in flight\n\n`,
  );
  process.stdout.write(`${formatTables(await run(options))}\n`);
}
