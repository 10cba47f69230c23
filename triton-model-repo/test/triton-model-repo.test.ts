/**
 * triton-model-repo/: each config.pbtxt read as Triton's ModelConfig text format (our pbtxt reader, then
 * through our ModelConfig proto, so that every field it sets exists with that type in the schema), checked
 * against the model manifests, accepted by the adapter's start-up contract check, and placed by
 * place-models.ts.
 */
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadKServeProto, type ModelConfig, type ModelMetadataResponse } from '@clip-search/protos';
import { textContract, visionContract } from '@clip-search/embedder-triton';
import { MODEL_CATALOG } from '@clip-search/clip';
import type { ModelManifest } from '@clip-search/contracts';
import { entriesToMap, type PbMessage, PbtxtError, parsePbtxt } from '../pbtxt';
import { ModelRepoMismatchError, placeModels } from '../place-models';
import {
  checkTowerConfig,
  commentedBlock,
  configPath,
  MODEL_REPO_DIR,
  readTowerConfig,
  type Tower,
  TOWER_MODELS,
} from '../repo-config';
import { tinyClip } from '@clip-search/clip/testing';

const TOWERS: Tower[] = ['vision', 'text'];

/** The text format writes a map as repeated {key, value} entries; protobufjs objects want an object. */
function withMaps(config: PbMessage): PbMessage {
  const optimization = config.optimization as PbMessage | undefined;
  const accelerators = optimization?.execution_accelerators as PbMessage | undefined;
  const gpu = accelerators?.gpu_execution_accelerator;
  if (!gpu) return config;
  const list = (Array.isArray(gpu) ? gpu : [gpu]) as PbMessage[];
  return {
    ...config,
    optimization: {
      ...optimization,
      execution_accelerators: {
        ...accelerators,
        gpu_execution_accelerator: list.map((a) => ({ ...a, parameters: entriesToMap(a.parameters) })),
      },
    },
  };
}

/** Encodes as ModelConfig with our proto and decodes again: what survives is what the schema knows. */
function throughProto(config: PbMessage): ModelConfig {
  const method = loadKServeProto().method('ModelConfig');
  const bytes = method.responseSerialize({ config: config as unknown as ModelConfig });
  return method.responseDeserialize(bytes).config!;
}

/** What Triton's ModelMetadata reports for a config with max_batch_size > 0. */
function metadataOf(config: ModelConfig): ModelMetadataResponse {
  const tensor = (t: { name: string; data_type: string; dims: number[] }) => ({
    name: t.name,
    datatype: t.data_type.replace(/^TYPE_/, ''),
    shape: [-1, ...t.dims],
  });
  return {
    name: config.name,
    versions: ['1'],
    platform: config.platform ?? '',
    inputs: config.input.map(tensor),
    outputs: config.output.map(tensor),
  };
}

const manifests: [string, () => Promise<ModelManifest>][] = [
  ['tiny-clip', async () => (await tinyClip()).manifest],
  ...MODEL_CATALOG.map((m): [string, () => Promise<ModelManifest>] => [
    m.name,
    () => Promise.resolve({ ...m.manifest, sha256: {} }),
  ]),
];

describe('triton-model-repo config.pbtxt', () => {
  test.each(TOWERS)('%s: every field is one of ModelConfig’s, with its type', (tower) => {
    const parsed = withMaps(readTowerConfig(MODEL_REPO_DIR, TOWER_MODELS[tower]));
    expect(throughProto(parsed)).toMatchObject(parsed);
  });

  test.each(TOWERS)('%s: batching and placement settings', (tower) => {
    const config = throughProto(readTowerConfig(MODEL_REPO_DIR, TOWER_MODELS[tower]));
    expect(config.name).toBe(TOWER_MODELS[tower]);
    expect(config.platform).toBe('onnxruntime_onnx');
    expect(config.max_batch_size).toBeGreaterThan(0);
    const batching = config.dynamic_batching!;
    expect(batching.preferred_batch_size!.length).toBeGreaterThan(0);
    expect([...batching.preferred_batch_size!].sort((a, b) => a - b)).toEqual(batching.preferred_batch_size);
    expect(Math.max(...batching.preferred_batch_size!)).toBeLessThanOrEqual(config.max_batch_size);
    expect(batching.max_queue_delay_microseconds).toBeGreaterThan(0);
    expect(config.instance_group).toEqual([expect.objectContaining({ kind: 'KIND_GPU', count: 1 })]);
    if (tower === 'text') expect(config.input[0]!.dims).toEqual([-1]);
  });

  test.each(TOWERS)('%s: the documented TensorRT FP16 block parses as ModelConfig', async (tower) => {
    const source = await readFile(configPath(MODEL_REPO_DIR, TOWER_MODELS[tower]), 'utf8');
    const block = commentedBlock(source, 'tensorrt-fp16');
    expect(block).toBeDefined();
    const parsed = withMaps(parsePbtxt(block!));
    const config = throughProto(parsed);
    expect(config).toMatchObject(parsed);
    const accelerator = (
      config as unknown as {
        optimization: {
          execution_accelerators: {
            gpu_execution_accelerator: { name: string; parameters: Record<string, string> }[];
          };
        };
      }
    ).optimization.execution_accelerators.gpu_execution_accelerator[0]!;
    expect(accelerator.name).toBe('tensorrt');
    expect(accelerator.parameters.precision_mode).toBe('FP16');
  });

  describe.each(manifests)('against the %s manifest', (_name, manifest) => {
    test.each(TOWERS)('%s: inputs, outputs, datatypes and dims match', async (tower) => {
      const config = readTowerConfig(MODEL_REPO_DIR, TOWER_MODELS[tower]);
      expect(checkTowerConfig(config, await manifest(), tower, TOWER_MODELS[tower])).toEqual([]);
    });

    test('the Triton adapter accepts the models these configs describe', async () => {
      const m = await manifest();
      const vision = throughProto(readTowerConfig(MODEL_REPO_DIR, TOWER_MODELS.vision));
      const text = throughProto(readTowerConfig(MODEL_REPO_DIR, TOWER_MODELS.text));
      expect(visionContract(metadataOf(vision), vision, m, 32).maxBatchSize).toBe(vision.max_batch_size);
      const contract = textContract(metadataOf(text), text, m, 32);
      expect(contract.maxBatchSize).toBe(text.max_batch_size);
      expect(contract.fixedLength).toBeUndefined();
    });
  });

  test('a manifest the configs do not fit is reported field by field', async () => {
    const tiny = (await tinyClip()).manifest;
    const other: ModelManifest = {
      ...tiny,
      dim: 768,
      image: { ...tiny.image, size: 336 },
      text: { ...tiny.text, input: 'ids' },
    };
    const vision = checkTowerConfig(
      readTowerConfig(MODEL_REPO_DIR, 'clip_vision'),
      other,
      'vision',
      'clip_vision',
    );
    expect(vision).toEqual([
      "clip_vision/config.pbtxt: input 'pixel_values' dims are [3, 224, 224], expected [3, 336, 336]",
      "clip_vision/config.pbtxt: output 'image_embeds' dims are [512], expected [768]",
    ]);
    const text = checkTowerConfig(readTowerConfig(MODEL_REPO_DIR, 'clip_text'), other, 'text', 'clip_text');
    expect(text).toEqual([
      "clip_text/config.pbtxt: no input 'ids' (the manifest's name)",
      "clip_text/config.pbtxt: output 'text_embeds' dims are [512], expected [768]",
    ]);
  });
});

describe('place-models', () => {
  let repo: string;

  beforeEach(async () => {
    repo = await mkdtemp(path.join(os.tmpdir(), 'triton-repo-'));
    for (const model of Object.values(TOWER_MODELS)) {
      await cp(path.join(MODEL_REPO_DIR, model, 'config.pbtxt'), path.join(repo, model, 'config.pbtxt'));
    }
  });
  afterEach(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  test.each([false, true])(
    'places both towers as <model>/1/model.onnx (copy: %s), again over old files',
    async (copy) => {
      const model = await tinyClip();
      await placeModels({ model, repoDir: repo, copy });
      const placed = await placeModels({ model, repoDir: repo, copy });
      expect(placed.map((p) => [p.tower, path.relative(repo, p.to)])).toEqual([
        ['vision', path.join('clip_vision', '1', 'model.onnx')],
        ['text', path.join('clip_text', '1', 'model.onnx')],
      ]);
      if (copy) expect(placed.every((p) => p.how === 'copy')).toBe(true);
      // Buffer.equals: Jest's toEqual walks megabytes element by element.
      const same = async (a: string, b: string) => (await readFile(a)).equals(await readFile(b));
      expect(await same(path.join(repo, 'clip_vision/1/model.onnx'), model.visionPath)).toBe(true);
      expect(await same(path.join(repo, 'clip_text/1/model.onnx'), model.textPath)).toBe(true);
    },
  );

  test('refuses a model its configs do not describe, placing nothing', async () => {
    const model = await tinyClip();
    const configFile = path.join(repo, 'clip_vision', 'config.pbtxt');
    await writeFile(
      configFile,
      (await readFile(configFile, 'utf8')).replace('dims: [ 512 ]', 'dims: [ 768 ]'),
    );
    const error = await placeModels({ model, repoDir: repo }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelRepoMismatchError);
    expect((error as ModelRepoMismatchError).problems).toEqual([
      "clip_vision/config.pbtxt: output 'image_embeds' dims are [768], expected [512]",
    ]);
    await expect(stat(path.join(repo, 'clip_vision', '1'))).rejects.toThrow();
  });
});

describe('pbtxt reader', () => {
  test('the text format as Triton’s documentation writes it', () => {
    const parsed = parsePbtxt(`
      name: "m" # trailing comment
      max_batch_size: 8
      optimization { execution_accelerators {
        gpu_execution_accelerator : [ {
          name : "tensorrt"
          parameters { key: "precision_mode" value: "FP16" }
          parameters { key: "x" value: "a\\"b" }
        } ]
      }}
      input [ { name: "a", data_type: TYPE_FP32, dims: [ -1, 3 ] }, { name: "b" data_type: TYPE_INT64 dims: [ 1 ] } ]
      output { name: "y" }
      output { name: "z" }
      dynamic_batching { preserve_ordering: true }
    `);
    expect(parsed).toEqual({
      name: 'm',
      max_batch_size: 8,
      optimization: {
        execution_accelerators: {
          gpu_execution_accelerator: [
            {
              name: 'tensorrt',
              parameters: [
                { key: 'precision_mode', value: 'FP16' },
                { key: 'x', value: 'a"b' },
              ],
            },
          ],
        },
      },
      input: [
        { name: 'a', data_type: 'TYPE_FP32', dims: [-1, 3] },
        { name: 'b', data_type: 'TYPE_INT64', dims: [1] },
      ],
      output: [{ name: 'y' }, { name: 'z' }],
      dynamic_batching: { preserve_ordering: true },
    });
  });

  test.each([
    ['name "m"', /expected ':' after name at line 1/],
    ['input [ { name: "a" }', /expected '\]'|expected ',' or '\]'/],
    ['a: {\n b: 1', /expected '}' at line 2/],
    ['a: @', /unexpected character '@' at line 1/],
  ])('refuses %j with the line', (source, message) => {
    expect(() => parsePbtxt(source)).toThrow(PbtxtError);
    expect(() => parsePbtxt(source)).toThrow(message);
  });
});
