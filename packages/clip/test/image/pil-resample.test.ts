import { bicubicAxisWeights, type PixelBuffer, resizeBicubicCropped } from '../../src/image/pil-resample';

const ONE = 1 << 22;

/** A deterministic pseudo-random image (xorshift), so edges and overshoot are exercised. */
function noiseImage(width: number, height: number, channels: number, seed = 1): PixelBuffer {
  const data = new Uint8Array(width * height * channels);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = s & 255;
  }
  return { data, width, height, channels };
}

function crop(image: PixelBuffer, left: number, top: number, width: number, height: number): Uint8Array {
  const c = image.channels;
  const out = new Uint8Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * c;
    out.set(image.data.subarray(from, from + width * c), y * width * c);
  }
  return out;
}

/** Index of the first differing byte, -1 when equal (Jest's deep equality is slow on big arrays). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('bicubicAxisWeights (Pillow precompute_coeffs + normalize_coeffs_8bpc)', () => {
  test.each([
    [512, 224],
    [224, 512],
    [1411, 224],
    [7, 224],
    [300, 301],
  ])(
    '%i → %i: windows inside the source, weights summing to one in 22-bit fixed point',
    (inSize, outSize) => {
      const { ksize, bounds, weights } = bicubicAxisWeights(inSize, outSize, 0, outSize);
      const filterScale = Math.max(1, inSize / outSize);
      expect(ksize).toBe(Math.ceil(2 * filterScale) * 2 + 1);
      for (let i = 0; i < outSize; i++) {
        const xmin = bounds[i * 2]!;
        const taps = bounds[i * 2 + 1]!;
        expect(xmin).toBeGreaterThanOrEqual(0);
        expect(taps).toBeGreaterThan(0);
        expect(taps).toBeLessThanOrEqual(ksize);
        expect(xmin + taps).toBeLessThanOrEqual(inSize);
        let sum = 0;
        for (let k = 0; k < ksize; k++) sum += weights[i * ksize + k]!;
        // Each weight is rounded on its own, so the sum is one within half a unit per tap.
        expect(Math.abs(sum - ONE)).toBeLessThanOrEqual(ksize);
      }
    },
  );

  test('a run of outputs gets the same weights as the whole axis', () => {
    const whole = bicubicAxisWeights(1000, 257, 0, 257);
    const part = bicubicAxisWeights(1000, 257, 16, 224);
    expect(Array.from(part.bounds)).toEqual(Array.from(whole.bounds.subarray(32, 32 + 448)));
    expect(Array.from(part.weights)).toEqual(
      Array.from(whole.weights.subarray(16 * whole.ksize, (16 + 224) * whole.ksize)),
    );
  });

  test('an unscaled axis is the identity (Pillow skips the pass; both must agree)', () => {
    const { ksize, bounds, weights } = bicubicAxisWeights(50, 50, 0, 50);
    for (let i = 0; i < 50; i++) {
      const xmin = bounds[i * 2]!;
      const taps = Array.from(weights.subarray(i * ksize, i * ksize + bounds[i * 2 + 1]!));
      expect(taps[i - xmin]).toBe(ONE);
      expect(taps.filter((w) => w !== 0)).toEqual([ONE]);
    }
  });
});

describe('resizeBicubicCropped', () => {
  test.each([
    ['downscale both', 400, 300, 298, 224],
    ['upscale both', 120, 90, 298, 224],
    ['wide strip', 900, 40, 5040, 224],
    ['width unchanged', 224, 500, 224, 224],
    ['height unchanged', 600, 224, 300, 224],
    ['grey', 333, 222, 336, 224],
  ])(
    '%s: computing only the crop gives the bytes of resizing everything then cropping',
    (name, w, h, ow, oh) => {
      const channels = name === 'grey' ? 1 : 3;
      const src = noiseImage(w, h, channels);
      const full = resizeBicubicCropped(src, ow, oh, { left: 0, top: 0, width: ow, height: oh });
      expect(full.width).toBe(ow);
      expect(full.height).toBe(oh);
      const size = Math.min(224, ow, oh);
      const left = Math.floor((ow - size) / 2);
      const top = Math.floor((oh - size) / 2);
      const cropped = resizeBicubicCropped(src, ow, oh, { left, top, width: size, height: size });
      expect(firstDifference(cropped.data, crop(full, left, top, size, size))).toBe(-1);
    },
  );

  test('a flat image stays flat at any scale (weights sum to one, rounding is half-up)', () => {
    const flat: PixelBuffer = {
      data: new Uint8Array(37 * 23 * 3).fill(173),
      width: 37,
      height: 23,
      channels: 3,
    };
    for (const [ow, oh] of [
      [224, 139],
      [5, 3],
      [37, 224],
    ] as const) {
      const out = resizeBicubicCropped(flat, ow, oh, { left: 0, top: 0, width: ow, height: oh });
      expect(out.data.every((v) => v === 173)).toBe(true);
    }
  });

  test("a 2 → 4 upscale of a black/white pair gives the values worked out from Pillow's formulas", () => {
    // centre = (x + 0.5) · 0.5; taps bicubic(±0.25) = 0.8671875, bicubic(0.75) = 0.2265625,
    // bicubic(1.25) = −0.0703125, normalized per pixel; 255 · w in 22-bit fixed point, then clipped:
    // [−22.5 → 0, 52.8 → 53, 202.2 → 202, 277.5 → 255].
    const expected = [0, 53, 202, 255];
    const row = resizeBicubicCropped(
      { data: Uint8Array.of(0, 255), width: 2, height: 1, channels: 1 },
      4,
      1,
      {
        left: 0,
        top: 0,
        width: 4,
        height: 1,
      },
    );
    expect(Array.from(row.data)).toEqual(expected);
    const column = resizeBicubicCropped(
      { data: Uint8Array.of(0, 255), width: 1, height: 2, channels: 1 },
      1,
      4,
      {
        left: 0,
        top: 0,
        width: 1,
        height: 4,
      },
    );
    expect(Array.from(column.data)).toEqual(expected);
  });

  test('calls the checkpoint between rows of both passes, and stops when it throws', () => {
    const src = noiseImage(400, 300, 3);
    let calls = 0;
    resizeBicubicCropped(src, 298, 224, { left: 37, top: 0, width: 224, height: 224 }, () => calls++);
    // 300 source rows through the horizontal pass, then 224 output rows through the vertical one.
    expect(calls).toBe(300 + 224);
    calls = 0;
    const stop = new Error('time is up');
    const checkpoint = () => {
      if (++calls === 10) throw stop;
    };
    expect(() =>
      resizeBicubicCropped(src, 298, 224, { left: 37, top: 0, width: 224, height: 224 }, checkpoint),
    ).toThrow(stop);
    expect(calls).toBe(10);
  });

  test('refuses a crop window outside the output', () => {
    const src = noiseImage(10, 10, 3);
    expect(() => resizeBicubicCropped(src, 20, 20, { left: 10, top: 0, width: 11, height: 5 })).toThrow(
      RangeError,
    );
    expect(() => resizeBicubicCropped(src, 20, 20, { left: 0, top: -1, width: 5, height: 5 })).toThrow(
      RangeError,
    );
  });
});
