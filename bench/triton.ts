/**
 * What the gRPC path costs: images/s and text queries/s through TritonInferenceBackend → KServe v2 →
 * the fixture server (ONNX Runtime in another process, as Triton would be) against ONNX Runtime in-process
 * on the same model and thread count, batch sizes 1, 8 and 32, side by side.
 *
 *   pnpm bench triton [--model-dir DIR] [--threads N] [--seconds S] [--batches 1,8,32] [--text-length T]
 *
 * Default model: tiny-clip (fixtures/models). For real CLIP ViT-B/32 speed, generate the full-size
 * synthetic model with ../shared/tools/make-synthetic-clip --size vit-b-32 --out DIR and pass
 * --model-dir DIR. On this CPU-only machine the server's compute is ONNX Runtime on the same cores, so
 * the ratio shows the protocol's overhead (serialization, copies, a loopback hop), not a GPU's speed-up.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { OnnxInferenceBackend } from '@clip-search/embedder-onnx';
import { resolveModelDir } from '@clip-search/clip';
import { tritonConfig, TritonInferenceBackend } from '@clip-search/embedder-triton';
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

export interface TritonBenchRow {
  readonly batch: number;
  readonly imagesPerSecond: { readonly ort: number; readonly grpc: number };
  readonly textsPerSecond: { readonly ort: number; readonly grpc: number };
  /** Extra milliseconds per call over gRPC (mean call time difference). */
  readonly addedMsPerCall: { readonly vision: number; readonly text: number };
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

export async function run(options: TritonBenchOptions): Promise<TritonBenchRow[]> {
  const model = await resolveModelDir(options.modelDir);
  const { size } = model.manifest.image;
  const largest = Math.max(...options.batches);
  const server = await startServer(model, largest, options.threads);
  let ort: InferenceBackend | undefined;
  let grpc: InferenceBackend | undefined;
  try {
    ort = await OnnxInferenceBackend.load(model, { threads: options.threads, maxBatchSize: largest });
    grpc = await TritonInferenceBackend.connect(
      tritonConfig({ url: server.url, maxInFlight: 1, inferDeadlineMs: 600_000, connectTimeoutMs: 60_000 }),
      model.manifest,
    );
    const rows: TritonBenchRow[] = [];
    for (const batch of options.batches) {
      const pixels = { data: pixelsOf(batch, size), count: batch, size };
      const tokens = { ids: tokensOf(batch, options.textLength), count: batch, length: options.textLength };
      const backends = { ort, grpc };
      const vision = {
        ort: await timeCalls(() => backends.ort.runVision(pixels), options.seconds),
        grpc: await timeCalls(() => backends.grpc.runVision(pixels), options.seconds),
      };
      const text = {
        ort: await timeCalls(() => backends.ort.runText(tokens), options.seconds),
        grpc: await timeCalls(() => backends.grpc.runText(tokens), options.seconds),
      };
      rows.push({
        batch,
        imagesPerSecond: { ort: batch / vision.ort, grpc: batch / vision.grpc },
        textsPerSecond: { ort: batch / text.ort, grpc: batch / text.grpc },
        addedMsPerCall: { vision: (vision.grpc - vision.ort) * 1000, text: (text.grpc - text.ort) * 1000 },
      });
    }
    return rows;
  } finally {
    await grpc?.close();
    await ort?.close();
    await server.stop();
  }
}

export function formatTable(rows: readonly TritonBenchRow[]): string {
  const f = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
  const lines = [
    '| batch | images/s ORT in-process | images/s gRPC (KServe) | gRPC ÷ ORT | +ms/call | texts/s ORT in-process | texts/s gRPC (KServe) | gRPC ÷ ORT | +ms/call |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.batch} | ${f(r.imagesPerSecond.ort)} | ${f(r.imagesPerSecond.grpc)} | ${(r.imagesPerSecond.grpc / r.imagesPerSecond.ort).toFixed(2)} | ${r.addedMsPerCall.vision.toFixed(2)} ` +
        `| ${f(r.textsPerSecond.ort)} | ${f(r.textsPerSecond.grpc)} | ${(r.textsPerSecond.grpc / r.textsPerSecond.ort).toFixed(2)} | ${r.addedMsPerCall.text.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
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
    `Triton adapter over KServe v2 gRPC (fixture server, separate process) vs ONNX Runtime in-process\n` +
      `model ${options.modelDir}, ${options.threads} intra-op thread(s) each, ≥${options.seconds}s per cell, ` +
      `text rows of ${options.textLength} tokens, one call in flight\n\n`,
  );
  process.stdout.write(`${formatTable(await run(options))}\n`);
}
