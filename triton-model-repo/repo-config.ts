/**
 * The model repository's config.pbtxt files against a model manifest: the same contract the Triton adapter
 * checks at start through ModelMetadata, checked here before a model is placed (place-models.ts) and in
 * the tests, so that a repository that would be refused is caught before Triton is even started.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ModelManifest } from '@clip-search/contracts';
import { type PbMessage, type PbValue, parsePbtxt } from './pbtxt';

/** This folder. */
export const MODEL_REPO_DIR = __dirname;

/** Triton model names of the two towers: the folder names here and the adapter's defaults. */
export const TOWER_MODELS = { vision: 'clip_vision', text: 'clip_text' } as const;
export type Tower = keyof typeof TOWER_MODELS;

export function configPath(repoDir: string, model: string): string {
  return path.join(repoDir, model, 'config.pbtxt');
}

export function readTowerConfig(repoDir: string, model: string): PbMessage {
  return parsePbtxt(readFileSync(configPath(repoDir, model), 'utf8'));
}

/**
 * The lines between `# --- <marker> ---` and `# --- end ---`, without their leading `# `: an optional
 * block documented in a config (the TensorRT FP16 accelerator), ready to parse.
 */
export function commentedBlock(source: string, marker: string): string | undefined {
  const lines = source.split('\n');
  const start = lines.findIndex((l) => l.trim() === `# --- ${marker} ---`);
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && l.trim() === '# --- end ---');
  if (end < 0) return undefined;
  return lines
    .slice(start + 1, end)
    .map((l) => l.replace(/^# ?/, ''))
    .join('\n');
}

const list = (value: PbValue | undefined): PbValue[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];
const isMessage = (value: PbValue | undefined): value is PbMessage =>
  typeof value === 'object' && !Array.isArray(value);
/** A parsed value as the config file would spell it. */
const show = (value: PbValue | undefined): string =>
  typeof value === 'object' ? JSON.stringify(value) : String(value);
const same = (a: readonly unknown[], b: readonly unknown[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

interface TensorSpec {
  readonly name: string;
  readonly dataType: string;
  readonly dims: readonly number[];
}

/** What the manifest requires of one tower's config (dims without the batch dimension). */
export function expectedTensors(
  manifest: ModelManifest,
  tower: Tower,
): { inputs: TensorSpec[]; output: TensorSpec } {
  if (tower === 'vision') {
    const { input, output, size } = manifest.image;
    return {
      inputs: [{ name: input, dataType: 'TYPE_FP32', dims: [3, size, size] }],
      output: { name: output, dataType: 'TYPE_FP32', dims: [manifest.dim] },
    };
  }
  const { input, output, attentionMask } = manifest.text;
  const inputs = [{ name: input, dataType: 'TYPE_INT64', dims: [-1] }];
  if (attentionMask !== undefined) inputs.push({ name: attentionMask, dataType: 'TYPE_INT64', dims: [-1] });
  return { inputs, output: { name: output, dataType: 'TYPE_FP32', dims: [manifest.dim] } };
}

/** Every way `config` (a parsed config.pbtxt of `model`) breaks the manifest's contract; empty when none. */
export function checkTowerConfig(
  config: PbMessage,
  manifest: ModelManifest,
  tower: Tower,
  model: string,
): string[] {
  const problems: string[] = [];
  const where = `${model}/config.pbtxt`;
  if (config.name !== model)
    problems.push(`${where}: name is ${JSON.stringify(config.name)}, the folder is '${model}'`);
  if (config.platform !== 'onnxruntime_onnx' && config.backend !== 'onnxruntime') {
    problems.push(`${where}: platform must be "onnxruntime_onnx" (or backend "onnxruntime")`);
  }
  const maxBatch = config.max_batch_size;
  if (typeof maxBatch !== 'number' || !Number.isInteger(maxBatch) || maxBatch < 1) {
    problems.push(`${where}: max_batch_size must be a positive integer (the client batches)`);
  }

  const expected = expectedTensors(manifest, tower);
  const tensorProblems = (kind: 'input' | 'output', specs: readonly TensorSpec[]) => {
    const actual = list(config[kind]).filter(isMessage);
    if (actual.length !== specs.length) {
      problems.push(
        `${where}: ${kind} lists ${actual.length} tensors, the manifest of '${manifest.name}' ${specs.length}`,
      );
    }
    for (const spec of specs) {
      const tensor = actual.find((t) => t.name === spec.name);
      if (!tensor) {
        problems.push(`${where}: no ${kind} '${spec.name}' (the manifest's name)`);
        continue;
      }
      if (tensor.data_type !== spec.dataType) {
        problems.push(
          `${where}: ${kind} '${spec.name}' data_type is ${show(tensor.data_type)}, expected ${spec.dataType}`,
        );
      }
      const dims = list(tensor.dims);
      const fixedLength =
        tower === 'text' && kind === 'input' && dims.length === 1 && dims[0] === manifest.text.contextLength;
      if (!same(dims, spec.dims) && !fixedLength) {
        problems.push(
          `${where}: ${kind} '${spec.name}' dims are [${dims.map(show).join(', ')}], expected [${spec.dims.join(', ')}]`,
        );
      }
    }
  };
  tensorProblems('input', expected.inputs);
  tensorProblems('output', [expected.output]);

  const batching = config.dynamic_batching;
  if (isMessage(batching) && typeof maxBatch === 'number') {
    for (const size of list(batching.preferred_batch_size)) {
      if (typeof size !== 'number' || size < 1 || size > maxBatch) {
        problems.push(
          `${where}: preferred_batch_size ${show(size)} is not within 1..max_batch_size (${maxBatch})`,
        );
      }
    }
  }
  return problems;
}
