import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ModelLoadError } from '@clip-search/contracts';
import { parseModelManifest, toModelManifestFile } from '../../src/model/model-manifest-file';
import { TINY_CLIP_DIR } from '../../src/testing/golden-fixtures';

const tinyJson = (): Record<string, Record<string, unknown>> =>
  JSON.parse(readFileSync(path.join(TINY_CLIP_DIR, 'model.json'), 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;

function problems(json: unknown): string {
  try {
    parseModelManifest(json, 'x/model.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ModelLoadError);
    return (error as Error).message;
  }
  throw new Error('expected the manifest to be rejected');
}

describe('model.json parsing', () => {
  test("tiny-clip's manifest (snake_case, with free-text notes) becomes a ModelManifest", () => {
    const { manifest, bpeFile } = parseModelManifest(tinyJson(), 'tiny');
    expect(manifest).toEqual({
      name: 'tiny-clip',
      dim: 512,
      image: {
        file: 'vision.onnx',
        input: 'pixel_values',
        output: 'image_embeds',
        size: 224,
        mean: [0.48145466, 0.4578275, 0.40821073],
        std: [0.26862954, 0.26130258, 0.27577711],
      },
      text: { file: 'text.onnx', input: 'input_ids', output: 'text_embeds', contextLength: 77, padId: 0 },
      sha256: {
        'vision.onnx': '83a1938764d4c04ad0f0f69a4ea33b32ab150a363491e58d5e61b4dee5038675',
        'text.onnx': 'e5b416090aff51b47f3b34fe347b936ce257364106797c5e89dc06e882173f19',
      },
    });
    expect(bpeFile).toBeUndefined();
  });

  test('text.attention_mask and text.bpe_file are read when present', () => {
    const json = tinyJson();
    json.text!.attention_mask = 'attention_mask';
    json.text!.bpe_file = 'merges.txt.gz';
    const { manifest, bpeFile } = parseModelManifest(json, 'tiny');
    expect(manifest.text.attentionMask).toBe('attention_mask');
    expect(bpeFile).toBe('merges.txt.gz');
  });

  test('every bad field is named by its key in the file', () => {
    const json = tinyJson();
    json.text!.context_length = 0;
    json.text!.pad_id = 'zero';
    json.image!.mean = [0.5, 0.5];
    json.image!.std = [0.5, 0, 0.5];
    delete json.image!.input;
    (json as Record<string, unknown>).dim = 51.5;
    const message = problems(json);
    expect(message).toContain('x/model.json');
    for (const key of [
      'text.context_length',
      'text.pad_id',
      'image.mean',
      'image.std.1',
      'image.input',
      'dim',
    ]) {
      expect(message).toMatch(new RegExp(`- ${key.replace(/\./g, '\\.')}: `));
    }
  });

  test('file names must stay inside the model folder', () => {
    const json = tinyJson();
    json.image!.file = '../../etc/passwd';
    json.text!.file = '/abs/text.onnx';
    const message = problems(json);
    expect(message).toMatch(/image\.file: must be a file name relative to the model folder/);
    expect(message).toMatch(/text\.file: must be a file name relative to the model folder/);
  });

  test('digests must be hex SHA-256', () => {
    const json = tinyJson();
    json.sha256 = { 'vision.onnx': 'abc' };
    expect(problems(json)).toMatch(/sha256\.vision\.onnx: expected a lowercase hex SHA-256/);
  });

  test('not an object at all', () => {
    expect(problems('hello')).toMatch(/\(root\)/);
  });

  test('toModelManifestFile writes what parseModelManifest reads back', () => {
    const { manifest } = parseModelManifest(tinyJson(), 'tiny');
    const withMask = { ...manifest, text: { ...manifest.text, attentionMask: 'attention_mask' } };
    const file = toModelManifestFile(withMask, { note: 'extra keys are kept' });
    expect(file.note).toBe('extra keys are kept');
    expect(parseModelManifest(JSON.parse(JSON.stringify(file)), 'round trip').manifest).toEqual(withMask);
  });
});
