import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { PHOTOS, ROOT, runCli as run, TINY } from './helpers/run-cli';

// Each case starts a Node process that compiles the CLI (tsx) and loads a model: allow for a busy machine.
jest.setTimeout(180_000);

describe('clip-search CLI', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clip-cli-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('tokenize prints the 77 reference ids and the truncation flag', async () => {
    const golden = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'fixtures/golden/tokenizer-golden.json'), 'utf8'),
    ) as {
      cases: { text: string; ids: number[]; truncated: boolean }[];
    };
    const long = golden.cases.find((c) => c.truncated);
    for (const c of [golden.cases[0], long]) {
      if (c === undefined) throw new Error('golden case missing');
      const { code, stdout } = await run(['tokenize', c.text]);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toEqual({ ids: c.ids, truncated: c.truncated });
    }
  });

  test('preprocess writes the float32 LE [3,224,224] tensor of the reference pipeline', async () => {
    const out = path.join(tmp, 'chelsea.f32');
    const { code } = await run(['preprocess', path.join(PHOTOS, 'chelsea.png'), '--out', out]);
    expect(code).toBe(0);
    const bytes = fs.readFileSync(out);
    expect(bytes.length).toBe(3 * 224 * 224 * 4);
    // Reference: the golden u8 image, normalized the same way.
    const { data } = await sharp(path.join(ROOT, 'fixtures/golden/pixels/chelsea.png'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    const mean = [0.48145466, 0.4578275, 0.40821073];
    const std = [0.26862954, 0.26130258, 0.27577711];
    let sum = 0;
    const plane = 224 * 224;
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < plane; i++) {
        const expected = ((data[i * 3 + c] ?? 0) / 255 - (mean[c] ?? 0)) / (std[c] ?? 1);
        sum += Math.abs(bytes.readFloatLE((c * plane + i) * 4) - expected);
      }
    }
    expect(sum / (3 * plane)).toBeLessThan(0.01);
  });

  test('embed prints a normalized embedding with its model and dimension', async () => {
    const text = await run(['embed', '--text', 'a photo of a cat']);
    expect(text.code).toBe(0);
    const t = JSON.parse(text.stdout) as {
      embedding: number[];
      dim: number;
      model: string;
      truncated: boolean;
    };
    expect(t.dim).toBe(512);
    expect(t.embedding).toHaveLength(512);
    expect(t.model).toBe('tiny-clip');
    expect(Math.hypot(...t.embedding)).toBeCloseTo(1, 5);

    const image = await run(['embed', '--image', path.join(PHOTOS, 'horse.png'), '--model-dir', TINY]);
    expect(image.code).toBe(0);
    const i = JSON.parse(image.stdout) as { embedding: number[]; width: number; height: number };
    expect(Math.hypot(...i.embedding)).toBeCloseTo(1, 5);
    expect([i.width, i.height]).toEqual([400, 328]);
  });

  test('bad input: one line on stderr and a non-zero exit', async () => {
    const corrupt = path.join(tmp, 'corrupt.jpg');
    fs.writeFileSync(corrupt, 'this is not an image');
    const cases: [string[], NodeJS.ProcessEnv][] = [
      [['embed', '--image', corrupt], {}],
      [['embed', '--image', path.join(tmp, 'missing.png')], {}],
      [['preprocess', corrupt, '--out', path.join(tmp, 'x.f32')], {}],
      [['tokenize'], {}],
      [['embed', '--text', 'a', '--image', corrupt], {}],
      [['frobnicate'], {}],
      [['tokenize', 'x'], { CLIP_MODEL_DIR: path.join(tmp, 'no-such-model') }],
      [['embed', '--text', 'x'], { EMBED_MAX_BATCH: 'lots' }],
    ];
    const runs = await Promise.all(cases.map(([args, env]) => run(args, env)));
    for (const [index, { code, stdout, stderr }] of runs.entries()) {
      const args = cases[index]?.[0];
      expect({ args, code: code !== 0 }).toEqual({ args, code: true });
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^clip-search: /);
      expect(stderr).not.toMatch(/unexpected error/);
    }
  });
});
