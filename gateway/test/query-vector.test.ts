import path from 'node:path';
import { createOnnxEmbedder } from '@clip-search/embedder-onnx';
import { loadConfig } from '@clip-search/config';
import { type Embedder } from '@clip-search/contracts';
import { ValidationFailedError, ZeroQueryError } from '../src/http/http-errors';
import { combineWeighted } from '../src/services/query-vector';

const ROOT = path.resolve(__dirname, '../..');

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  a.forEach((value, i) => {
    sum += value * (b[i] ?? NaN);
  });
  return sum;
}

const norm = (a: Float32Array) => Math.sqrt(dot(a, a));

describe('combineWeighted on real tiny-clip embeddings', () => {
  let embedder: Embedder;
  let cat: Float32Array;
  let car: Float32Array;
  let photo: Float32Array;
  let dim: number;

  beforeAll(async () => {
    const config = loadConfig({ CLIP_MODEL_DIR: path.join(ROOT, 'fixtures/models/tiny-clip') });
    ({ embedder } = await createOnnxEmbedder(config.embedder, { progress: 'none' }));
    dim = embedder.info.dim;
    const [a, b] = await embedder.embedTexts(['a photo of a cat', 'a red sports car']);
    const [image] = await embedder.embedImages([{ path: path.join(ROOT, 'demo/photos/chelsea.png') }]);
    if (a === undefined || b === undefined || image?.ok !== true) throw new Error('embedding failed');
    [cat, car, photo] = [a.embedding, b.embedding, image.embedding];
  });
  afterAll(async () => {
    await embedder.close();
  });

  it('returns a single term unchanged, whatever its positive weight', () => {
    for (const weight of [1, 0.25, 7]) {
      const query = combineWeighted([{ vector: cat, weight, field: 'q' }], dim);
      expect(dot(query, cat)).toBeCloseTo(1, 5);
    }
  });

  it('normalizes each term before weighting, then the sum', () => {
    // A raw vector of any length counts like its unit vector.
    const long = cat.map((v) => v * 40);
    const query = combineWeighted(
      [
        { vector: long, weight: 1, field: 'a' },
        { vector: photo, weight: 1, field: 'b' },
      ],
      dim,
    );
    expect(norm(query)).toBeCloseTo(1, 5);
    const expected = cat.map((v, i) => v + (photo[i] ?? 0));
    const expectedNorm = norm(expected);
    query.forEach((value, i) => {
      expect(value).toBeCloseTo((expected[i] ?? 0) / expectedNorm, 5);
    });
    // An equal mix is equally close to both terms.
    expect(dot(query, cat)).toBeCloseTo(dot(query, photo), 5);
  });

  it('steers away from a negatively weighted term', () => {
    const plain = combineWeighted([{ vector: cat, weight: 1, field: 'a' }], dim);
    const away = combineWeighted(
      [
        { vector: cat, weight: 1, field: 'a' },
        { vector: car, weight: -0.5, field: 'b' },
      ],
      dim,
    );
    expect(dot(away, car)).toBeLessThan(dot(plain, car));
    // Exactly: cos(q, car) = (cat·car − 0.5) / ‖cat − 0.5·car‖.
    const catCar = dot(cat, car);
    expect(dot(away, car)).toBeCloseTo((catCar - 0.5) / Math.sqrt(1 + 0.25 - catCar), 5);
  });

  it('refuses terms that cancel out', () => {
    expect(() =>
      combineWeighted(
        [
          { vector: cat, weight: 2, field: 'a' },
          { vector: cat, weight: -2, field: 'b' },
        ],
        dim,
      ),
    ).toThrow(ZeroQueryError);
    expect(() => combineWeighted([{ vector: cat, weight: 0, field: 'a' }], dim)).toThrow(ZeroQueryError);
    expect(() => combineWeighted([], dim)).toThrow(ZeroQueryError);
  });

  it('names the field of a vector with the wrong dimension, a zero vector or a non-finite value', () => {
    const check = (vector: Float32Array, message: RegExp) => {
      let error: unknown;
      try {
        combineWeighted([{ vector, weight: 1, field: 'query[3].vector' }], dim);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ValidationFailedError);
      expect((error as ValidationFailedError).errors).toEqual([
        { field: 'query[3].vector', message: expect.stringMatching(message) as string },
      ]);
    };
    check(new Float32Array(dim - 1).fill(1), /has 511 dimensions; the model's embeddings have 512/);
    check(new Float32Array(dim), /zero vector/);
    check(new Float32Array(dim).fill(Number.NaN), /finite/);
  });

  it('takes raw vectors and weights of any magnitude JSON can write, without overflow', () => {
    const scaled = (factor: number) => Array.from(cat, (value) => value * factor);
    for (const factor of [1.66e173, 1e300, 1e-300]) {
      const query = combineWeighted([{ vector: scaled(factor), weight: 1, field: 'v' }], dim);
      expect(dot(query, cat)).toBeCloseTo(1, 5);
    }
    const mixed = combineWeighted(
      [
        { vector: cat, weight: -4.3e279, field: 'a' },
        { vector: car, weight: 1, field: 'b' },
      ],
      dim,
    );
    expect(norm(mixed)).toBeCloseTo(1, 5);
    expect(dot(mixed, cat)).toBeCloseTo(-1, 5);
  });
});
