import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OnnxInferenceBackend } from '../src/onnx-inference-backend';
import { InvalidInputError, ModelLoadError, ModelMismatchError } from '@clip-search/contracts';
import { resolveModelDir } from '@clip-search/clip';
import {
  golden,
  goldenPixels,
  idBatch,
  maxAbsDiff,
  normalize,
  realLength,
  row,
  sharedPixels,
  TINY_CLIP_DIR,
  tinyClip,
  tokenizerGolden,
} from '@clip-search/clip/testing';
import { withExtraInt64Input } from '@clip-search/clip/testing';

const DIM = 512;

interface ManifestJson {
  dim: number;
  image: Record<string, unknown>;
  text: Record<string, unknown>;
}
const SIZE = 224;

describe('OnnxInferenceBackend on tiny-clip (real ONNX Runtime)', () => {
  let backend: OnnxInferenceBackend;

  beforeAll(async () => {
    backend = await OnnxInferenceBackend.load(await tinyClip(), { threads: 0, maxBatchSize: 64 });
  });
  afterAll(async () => {
    await backend.close();
  });

  test('reports its kind and is ready', async () => {
    expect(backend.kind).toBe('onnx');
    expect(await backend.isReady()).toBe(true);
  });

  test('golden image embeddings are reproduced to 1e-4 (normalized), in one batch', async () => {
    const pixels = await Promise.all(golden.images.map(goldenPixels));
    const data = new Float32Array(pixels.length * 3 * SIZE * SIZE);
    pixels.forEach((p, i) => {
      data.set(p, i * p.length);
    });
    const out = await backend.runVision({ data, count: pixels.length, size: SIZE });
    expect(out).toHaveLength(pixels.length * DIM);
    golden.images.forEach((entry, i) => {
      const diff = maxAbsDiff(normalize(row(out, i, DIM)), normalize(entry.image_embeds));
      expect({ image: entry.image, ok: diff <= 1e-4 }).toEqual({ image: entry.image, ok: true });
    });
  });

  test('the PNG golden pixels equal the reference .f32 tensors (when ../shared is present)', async () => {
    const entry = golden.images[0]!;
    const reference = sharedPixels(entry);
    if (reference === undefined) return; // ../shared is not beside this clone: covered by the test above
    expect(maxAbsDiff(await goldenPixels(entry), reference)).toBeLessThan(1e-5);
  });

  test('golden text embeddings are reproduced to 1e-4 from the golden token ids', async () => {
    // tiny-clip-golden.json's texts are tokenizer-golden.json's cases, in the same order.
    expect(golden.texts.map((t) => t.text)).toEqual(tokenizerGolden.cases.map((c) => c.text));
    const out = await backend.runText(idBatch(tokenizerGolden.cases, 77));
    golden.texts.forEach((entry, i) => {
      const diff = maxAbsDiff(normalize(row(out, i, DIM)), normalize(entry.text_embeds));
      expect({ text: entry.text, ok: diff <= 1e-4 }).toEqual({ text: entry.text, ok: true });
    });
  });

  test('a batch trimmed to its longest real sequence gives the padded-to-77 embeddings (≤ 1e-5)', async () => {
    const cases = tokenizerGolden.cases.filter((c) => realLength(c.ids) < 20);
    expect(cases.length).toBeGreaterThan(10);
    const longest = Math.max(...cases.map((c) => realLength(c.ids)));
    const padded = await backend.runText(idBatch(cases, 77));
    const trimmed = await backend.runText(idBatch(cases, longest));
    cases.forEach((_, i) => {
      expect(maxAbsDiff(normalize(row(trimmed, i, DIM)), normalize(row(padded, i, DIM)))).toBeLessThanOrEqual(
        1e-5,
      );
    });
  });

  test('rejects malformed batches with InvalidInputError', async () => {
    await expect(backend.runVision({ data: new Float32Array(10), count: 1, size: SIZE })).rejects.toThrow(
      InvalidInputError,
    );
    await expect(
      backend.runVision({ data: new Float32Array(3 * 32 * 32), count: 1, size: 32 }),
    ).rejects.toThrow(/does not match the model's 224/);
    await expect(backend.runText({ ids: new BigInt64Array(78), count: 1, length: 78 })).rejects.toThrow(
      /not in 1\.\.77/,
    );
    await expect(backend.runText({ ids: new BigInt64Array(0), count: 0, length: 2 })).rejects.toThrow(
      InvalidInputError,
    );
    await expect(backend.runText({ ids: new BigInt64Array(65 * 2), count: 65, length: 2 })).rejects.toThrow(
      /1\.\.64 accepted/,
    );
  });
});

describe('intra-op threads', () => {
  async function threadsOf(threads: number): Promise<number> {
    const backend = await OnnxInferenceBackend.load(await tinyClip(), { threads, maxBatchSize: 8 });
    try {
      return backend.threads;
    } finally {
      await backend.close();
    }
  }

  test('0 means the cores this process may use, not ONNX Runtime’s own choice', async () => {
    expect(await threadsOf(0)).toBe(os.availableParallelism());
  });

  test('a positive count is used as given', async () => {
    expect(await threadsOf(1)).toBe(1);
    expect(await threadsOf(3)).toBe(3);
  });

  test('a negative or fractional count is refused before any session is created', async () => {
    const model = await tinyClip();
    for (const threads of [-1, 1.5]) {
      await expect(OnnxInferenceBackend.load(model, { threads, maxBatchSize: 8 })).rejects.toThrow(
        RangeError,
      );
    }
  });
});

describe('model contract checked at load', () => {
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'clip-contract-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  /** A copy of tiny-clip whose model.json is edited by `edit`. */
  async function variant(name: string, edit: (json: ManifestJson) => void): Promise<string> {
    const dir = path.join(tmp, name);
    await cp(TINY_CLIP_DIR, dir, { recursive: true });
    const file = path.join(dir, 'model.json');
    const json = JSON.parse(await readFile(file, 'utf8')) as ManifestJson;
    edit(json);
    await writeFile(file, JSON.stringify(json));
    return dir;
  }

  async function load(dir: string): Promise<OnnxInferenceBackend> {
    return OnnxInferenceBackend.load(await resolveModelDir(dir), { threads: 1, maxBatchSize: 8 });
  }

  test.each([
    [
      'image.input',
      (j: ManifestJson) => (j.image.input = 'pixels'),
      /'pixels'.*image\.input.*'pixel_values'/s,
    ],
    [
      'image.output',
      (j: ManifestJson) => (j.image.output = 'embeds'),
      /'embeds'.*image\.output.*'image_embeds'/s,
    ],
    ['text.input', (j: ManifestJson) => (j.text.input = 'ids'), /'ids'.*text\.input.*'input_ids'/s],
    [
      'text.output',
      (j: ManifestJson) => (j.text.output = 'pooled'),
      /'pooled'.*text\.output.*'text_embeds'/s,
    ],
    [
      'text.attention_mask',
      (j: ManifestJson) => (j.text.attention_mask = 'attention_mask'),
      /'attention_mask'.*text\.attention_mask.*'input_ids'/s,
    ],
    ['dim', (j: ManifestJson) => (j.dim = 768), /outputs 512-d embeddings; the manifest says dim 768/],
    ['image.size', (j: ManifestJson) => (j.image.size = 336), /\[batch, 3, 224, 224\].*image\.size 336/],
  ])(
    'a wrong %s fails with ModelMismatchError naming expected and available names',
    async (field, edit, message) => {
      const dir = await variant(field.replace('.', '-'), edit);
      const error = await load(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelMismatchError);
      expect((error as Error).message).toMatch(message);
    },
  );

  test('a file that is not an ONNX model fails with ModelLoadError naming it', async () => {
    const dir = await variant('garbage', () => undefined);
    await writeFile(path.join(dir, 'vision.onnx'), 'not a model');
    const error = await load(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toContain(path.join(dir, 'vision.onnx'));
  });

  describe('a text model that also takes an attention mask', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await variant('with-mask', () => undefined);
      const textPath = path.join(dir, 'text.onnx');
      await writeFile(textPath, withExtraInt64Input(await readFile(textPath), 'attention_mask'));
    });

    async function goldenTextsMatch(backend: OnnxInferenceBackend): Promise<void> {
      const cases = tokenizerGolden.cases.slice(0, 8);
      const longest = Math.max(...cases.map((c) => realLength(c.ids)));
      const out = await backend.runText(idBatch(cases, longest));
      cases.forEach((_, i) => {
        expect(maxAbsDiff(normalize(row(out, i, DIM)), normalize(golden.texts[i]!.text_embeds))).toBeLessThan(
          1e-4,
        );
      });
    }

    test('is fed one when model.json declares text.attention_mask', async () => {
      const declared = await variant('with-mask-declared', (j) => (j.text.attention_mask = 'attention_mask'));
      await cp(path.join(dir, 'text.onnx'), path.join(declared, 'text.onnx'));
      const backend = await load(declared);
      try {
        await goldenTextsMatch(backend); // ONNX Runtime refuses a run that lacks a declared input
      } finally {
        await backend.close();
      }
    });

    test('is fed one when the export has the conventional attention_mask input undeclared', async () => {
      const backend = await load(dir);
      try {
        await goldenTextsMatch(backend);
      } finally {
        await backend.close();
      }
    });

    test('any other undeclared input fails at load, listing the inputs', async () => {
      const other = await variant('with-other-input', () => undefined);
      const textPath = path.join(other, 'text.onnx');
      await writeFile(textPath, withExtraInt64Input(await readFile(textPath), 'position_ids'));
      const error = await load(other).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelMismatchError);
      expect((error as Error).message).toMatch(/\['input_ids', 'position_ids'\]/);
    });
  });
});
