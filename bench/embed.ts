/**
 * `pnpm bench embed [--images N] [--batch B] [--threads T] [--rounds R] [--model-dir DIR]`
 *
 * Side by side in one run, on Caltech-101 photos and the full-size synthetic ViT-B/32:
 * - raw ONNX Runtime images/s on tensors made beforehand (the ceiling);
 * - end-to-end images/s through Embedder.embedImages (read, decode, preprocess, infer, normalize);
 * - their ratio (target ≥ 0.8: decoding must hide behind inference);
 * - text queries/s for short queries, batches trimmed to their longest real sequence vs padded to 77.
 * Rounds alternate between the contenders so that a noisy neighbour hits both alike.
 */
import { parseArgs } from 'node:util';
import { createOnnxEmbedder } from '@clip-search/embedder-onnx';
import { loadConfig } from '@clip-search/config';
import { type ClipEmbedder } from '@clip-search/clip';
import { caltechImages, caltechPrompts, syntheticVitB32 } from './lib/shared-data';
import { median, printTable } from './lib/table';

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function rawVision(embedder: ClipEmbedder, tensors: Float32Array[], batch: number): Promise<number> {
  const size = embedder.info.imageSize;
  const per = 3 * size * size;
  const start = process.hrtime.bigint();
  for (let i = 0; i < tensors.length; i += batch) {
    const group = tensors.slice(i, i + batch);
    const data = new Float32Array(group.length * per);
    group.forEach((t, j) => {
      data.set(t, j * per);
    });
    await embedder.backend.runVision({ data, count: group.length, size });
  }
  return tensors.length / seconds(start);
}

async function endToEnd(embedder: ClipEmbedder, files: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  const results = await embedder.embedImages(files.map((path) => ({ path })));
  const failed = results.filter((r) => !r.ok).length;
  if (failed > 0) throw new Error(`${failed} images failed to embed`);
  return files.length / seconds(start);
}

async function rawText(
  embedder: ClipEmbedder,
  prompts: string[],
  batch: number,
  trim: boolean,
): Promise<number> {
  const tokenized = prompts.map((p) => embedder.tokenizer.tokenize(p));
  const context = embedder.info.contextLength;
  const start = process.hrtime.bigint();
  for (let i = 0; i < tokenized.length; i += batch) {
    const group = tokenized.slice(i, i + batch);
    const length = trim ? Math.max(...group.map((t) => t.length)) : context;
    const ids = new BigInt64Array(group.length * length);
    group.forEach((t, j) => {
      for (let k = 0; k < length; k++) ids[j * length + k] = BigInt(t.ids[k] ?? 0);
    });
    await embedder.backend.runText({ ids, count: group.length, length });
  }
  return prompts.length / seconds(start);
}

export default async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      images: { type: 'string', default: '200' },
      batch: { type: 'string', default: '8' },
      threads: { type: 'string', default: '0' },
      rounds: { type: 'string', default: '2' },
      'model-dir': { type: 'string' },
    },
  });
  const count = Number(values.images);
  const batch = Number(values.batch);
  const rounds = Number(values.rounds);
  const modelDir = values['model-dir'] ?? syntheticVitB32();
  const config = loadConfig({
    ...process.env,
    CLIP_MODEL_DIR: modelDir,
    EMBED_MAX_BATCH: String(batch),
    ONNX_THREADS: values.threads,
  });
  const { embedder, model } = await createOnnxEmbedder(config.embedder);
  const files = caltechImages(count);
  const prompts = caltechPrompts();
  process.stderr.write(
    `model ${model.manifest.name} (${modelDir}), ${files.length} Caltech-101 images, batch ${batch}\n`,
  );

  // Tensors for the raw rows are made once, outside the timing.
  const tensors: Float32Array[] = [];
  const prepStart = process.hrtime.bigint();
  for (const file of files) tensors.push((await embedder.preprocessor.preprocess({ path: file })).pixels);
  const preprocessRate = files.length / seconds(prepStart);

  // Warm-up: first runs allocate arenas and pick kernels.
  await rawVision(embedder, tensors.slice(0, batch), batch);
  await endToEnd(embedder, files.slice(0, batch));
  await rawText(embedder, prompts.slice(0, 8), 8, true);

  const raw: number[] = [];
  const e2e: number[] = [];
  for (let r = 0; r < rounds; r++) {
    raw.push(await rawVision(embedder, tensors, batch));
    e2e.push(await endToEnd(embedder, files));
  }
  const textRows: (string | number)[][] = [];
  for (const textBatch of [1, 8]) {
    const trimmed: number[] = [];
    const padded: number[] = [];
    for (let r = 0; r < rounds; r++) {
      trimmed.push(await rawText(embedder, prompts, textBatch, true));
      padded.push(await rawText(embedder, prompts, textBatch, false));
    }
    const t = median(trimmed);
    const p = median(padded);
    textRows.push([`text queries/s, batch ${textBatch}: trimmed vs padded to 77`, t, p, t / p]);
  }
  await embedder.close();

  const rawRate = median(raw);
  const e2eRate = median(e2e);
  printTable(
    ['measure', 'value', 'baseline', 'ratio'],
    [
      [`images/s end to end vs raw ONNX Runtime (batch ${batch})`, e2eRate, rawRate, e2eRate / rawRate],
      ...textRows,
      ['images/s decode + preprocess alone (one at a time, informational)', preprocessRate, '', ''],
    ],
  );
}
