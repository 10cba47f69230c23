/**
 * Pillow's bicubic resize (`Image.resize(size, BICUBIC)`, libImaging/Resample.c) re-implemented bit for bit,
 * because CLIP was trained on what Pillow produces and every other resizer (libvips included) differs by
 * a few levels, more on upscales and strong downscales.
 *
 * What makes it Pillow's and not just "a bicubic":
 *  - the kernel is Keys' cubic with a = -0.5, its support widened by the downscale factor (antialias);
 *  - each output pixel's weights are normalized to sum 1, then turned into fixed point with 22 fraction
 *    bits (rounded half away from zero) and accumulated in integers starting from one half;
 *  - the horizontal pass runs first and its result is clipped to uint8 before the vertical pass;
 *  - a pass whose dimension does not change is skipped.
 *
 * Every output pixel depends only on its own weights, so computing just the pixels a crop keeps gives the
 * same bytes as resizing everything and cropping after; that is what {@link resizeBicubicCropped} does,
 * which keeps extreme aspect ratios (a 1 × 1000 strip becomes 224 × 224 000 before the crop) cheap.
 */

/* eslint-disable @typescript-eslint/no-non-null-assertion --
   Hot typed-array loops whose indices are in range by construction; `?? 0` here measured 30–40 % slower. */

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const BICUBIC_SUPPORT = 2;

/** Keys' cubic convolution kernel with a = -0.5, as Pillow's `bicubic_filter`. */
function bicubic(x: number): number {
  const a = -0.5;
  const t = x < 0 ? -x : x;
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/** The fixed-point weights of a run of consecutive output pixels along one axis. */
export interface AxisWeights {
  /** Taps per output pixel (the stride of `weights`). */
  readonly ksize: number;
  /** For output pixel i of the run: first source index at [2i], number of taps at [2i + 1]. */
  readonly bounds: Int32Array;
  /** Weights scaled by 2^22, `ksize` per output pixel, unused taps zero. */
  readonly weights: Int32Array;
}

/**
 * Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for output pixels [outStart, outStart + outCount)
 * of a resize of `inSize` source pixels to `outSize` (the box is the whole source, as `Image.resize` uses).
 */
export function bicubicAxisWeights(
  inSize: number,
  outSize: number,
  outStart: number,
  outCount: number,
): AxisWeights {
  const scale = inSize / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = BICUBIC_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outCount * 2);
  const weights = new Int32Array(outCount * ksize);
  const raw = new Float64Array(ksize);
  const ss = 1 / filterScale;
  for (let i = 0; i < outCount; i++) {
    const center = (outStart + i + 0.5) * scale;
    // C's (int) cast truncates toward zero, as `| 0` does; the clamps keep the window inside the source.
    let xmin = (center - support + 0.5) | 0;
    if (xmin < 0) xmin = 0;
    let xmax = (center + support + 0.5) | 0;
    if (xmax > inSize) xmax = inSize;
    const taps = xmax - xmin;
    let sum = 0;
    for (let x = 0; x < taps; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      raw[x] = w;
      sum += w;
    }
    const base = i * ksize;
    for (let x = 0; x < taps; x++) {
      const w = sum !== 0 ? raw[x]! / sum : raw[x]!;
      weights[base + x] = w < 0 ? (-0.5 + w * ONE) | 0 : (0.5 + w * ONE) | 0;
    }
    bounds[i * 2] = xmin;
    bounds[i * 2 + 1] = taps;
  }
  return { ksize, bounds, weights };
}

/**
 * Pillow's `clip8`: the accumulator's integer part, clamped to a byte. Accumulators are plain numbers:
 * every product and partial sum is an integer well inside ±2^31 (as Pillow's `int` needs), so double
 * arithmetic is exact; `Math.imul` would be no faster here and is very slow inside Jest's sandbox.
 */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** An interleaved 8-bit image: `channels` bytes per pixel, rows packed with no padding. */
export interface PixelBuffer {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** The window of the resized image to produce. */
export interface CropWindow {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Called between rows; throws to stop the resize (a time limit, a caller that gave up). A large exact
 * resize is seconds of synchronous JS that nothing outside can interrupt.
 */
export type Checkpoint = () => void;

const noCheckpoint: Checkpoint = () => undefined;

/**
 * `Image.resize((outWidth, outHeight), BICUBIC)` followed by `crop(window)`, computing only the cropped
 * pixels. Returns an interleaved buffer of `crop.width × crop.height × channels`.
 */
export function resizeBicubicCropped(
  src: PixelBuffer,
  outWidth: number,
  outHeight: number,
  crop: CropWindow,
  checkpoint: Checkpoint = noCheckpoint,
): PixelBuffer {
  if (
    crop.left < 0 ||
    crop.top < 0 ||
    crop.width <= 0 ||
    crop.height <= 0 ||
    crop.left + crop.width > outWidth ||
    crop.top + crop.height > outHeight
  ) {
    throw new RangeError(`crop window outside the ${outWidth}x${outHeight} output`);
  }
  const needHorizontal = outWidth !== src.width;
  const needVertical = outHeight !== src.height;

  // Source rows the kept output rows read: all of them through the vertical weights, or just the crop.
  let vertical: AxisWeights | undefined;
  let firstRow = crop.top;
  let lastRow = crop.top + crop.height;
  if (needVertical) {
    vertical = bicubicAxisWeights(src.height, outHeight, crop.top, crop.height);
    firstRow = vertical.bounds[0]!;
    const last = (crop.height - 1) * 2;
    lastRow = vertical.bounds[last]! + vertical.bounds[last + 1]!;
  }

  const rows: PixelBuffer = needHorizontal
    ? resampleRows(
        src,
        bicubicAxisWeights(src.width, outWidth, crop.left, crop.width),
        firstRow,
        lastRow,
        checkpoint,
      )
    : sliceWindow(src, crop.left, crop.width, firstRow, lastRow);

  return vertical ? resampleColumns(rows, vertical, firstRow, checkpoint) : rows;
}

/** Copies columns [left, left + width) of rows [firstRow, lastRow). */
function sliceWindow(
  src: PixelBuffer,
  left: number,
  width: number,
  firstRow: number,
  lastRow: number,
): PixelBuffer {
  const c = src.channels;
  const height = lastRow - firstRow;
  const rowBytes = width * c;
  const out = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    const from = ((firstRow + y) * src.width + left) * c;
    out.set(src.data.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { data: out, width, height, channels: c };
}

/** Horizontal pass over source rows [firstRow, lastRow), clipped to uint8 as Pillow stores it. */
function resampleRows(
  src: PixelBuffer,
  axis: AxisWeights,
  firstRow: number,
  lastRow: number,
  checkpoint: Checkpoint,
): PixelBuffer {
  const { data, width: inWidth, channels: c } = src;
  const { ksize, bounds, weights } = axis;
  const outWidth = bounds.length / 2;
  const height = lastRow - firstRow;
  const out = new Uint8Array(outWidth * height * c);
  let o = 0;
  for (let y = 0; y < height; y++) {
    checkpoint();
    const rowBase = (firstRow + y) * inWidth * c;
    for (let xx = 0; xx < outWidth; xx++) {
      const xmin = bounds[xx * 2]!;
      const taps = bounds[xx * 2 + 1]!;
      const kBase = xx * ksize;
      let p = rowBase + xmin * c;
      if (c === 3) {
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let x = 0; x < taps; x++, p += 3) {
          const k = weights[kBase + x]!;
          s0 += data[p]! * k;
          s1 += data[p + 1]! * k;
          s2 += data[p + 2]! * k;
        }
        out[o++] = clip8(s0);
        out[o++] = clip8(s1);
        out[o++] = clip8(s2);
      } else {
        for (let ch = 0; ch < c; ch++) {
          let s = HALF;
          for (let x = 0, q = p + ch; x < taps; x++, q += c) s += data[q]! * weights[kBase + x]!;
          out[o++] = clip8(s);
        }
      }
    }
  }
  return { data: out, width: outWidth, height, channels: c };
}

/** Vertical pass; `rowOffset` is the source row that `src`'s first row holds. */
function resampleColumns(
  src: PixelBuffer,
  axis: AxisWeights,
  rowOffset: number,
  checkpoint: Checkpoint,
): PixelBuffer {
  const { data, width, channels: c } = src;
  const { ksize, bounds, weights } = axis;
  const outHeight = bounds.length / 2;
  const rowBytes = width * c;
  const out = new Uint8Array(rowBytes * outHeight);
  let o = 0;
  for (let yy = 0; yy < outHeight; yy++) {
    checkpoint();
    const first = (bounds[yy * 2]! - rowOffset) * rowBytes;
    const taps = bounds[yy * 2 + 1]!;
    const kBase = yy * ksize;
    // Interleaved channels are independent here, so a row is just rowBytes columns of bytes.
    for (let i = 0; i < rowBytes; i++) {
      let s = HALF;
      for (let y = 0, p = first + i; y < taps; y++, p += rowBytes) s += data[p]! * weights[kBase + y]!;
      out[o++] = clip8(s);
    }
  }
  return { data: out, width, height: outHeight, channels: c };
}
