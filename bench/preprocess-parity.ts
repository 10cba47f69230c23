/**
 * CLIP preprocessing parity and speed.
 *
 *   pnpm bench preprocess-parity [--runs N]
 *
 * Parity, with default options and with exactResize: for every golden image (demo/photos + fixtures/golden/pixels, and ../shared/fixtures/pixels/*.f32
 * when present), the mean / 99th-percentile / max absolute difference in normalized units and the number of
 * differing values. Speed: wall and CPU time per image for a Caltech-101 sample (when ../shared is present),
 * the demo photos and generated 12 MP and 24 MP camera-like JPEGs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { CLIP_MEAN, CLIP_STD, ImagePreprocessor } from '@clip-search/clip';

const root = path.resolve(__dirname, '..');
const photos = path.join(root, 'demo/photos');
const goldenPng = path.join(root, 'fixtures/golden/pixels');
const sharedPixels = path.resolve(root, '../shared/fixtures/pixels');
const caltech = path.resolve(root, '../shared/data/caltech101/101_ObjectCategories');
const size = 224;
/** Timed passes over each image set (`--runs N`). */
let runs = 5;

const options = { size, mean: CLIP_MEAN, std: CLIP_STD, maxPixels: 100_000_000 };
const pre = new ImagePreprocessor(options);
const exactPre = new ImagePreprocessor({ ...options, exactResize: true });

interface Stats {
  mean: number;
  p99: number;
  max: number;
  differing: number;
}

function compare(ours: Float32Array, reference: Float32Array): Stats {
  const diffs = new Float64Array(ours.length);
  let sum = 0;
  let differing = 0;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(ours[i]! - reference[i]!);
    diffs[i] = d;
    sum += d;
    if (d > 1e-6) differing++;
  }
  diffs.sort();
  return {
    mean: sum / ours.length,
    p99: diffs[Math.floor(diffs.length * 0.99)]!,
    max: diffs[diffs.length - 1]!,
    differing,
  };
}

/** The reference u8 PNG, normalized the same way (float32 steps), as CHW. */
async function goldenFromPng(file: string): Promise<Float32Array> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3)
    throw new Error(`bad golden ${file}`);
  const f = Math.fround;
  const out = new Float32Array(3 * size * size);
  for (let ch = 0; ch < 3; ch++) {
    for (let i = 0; i < size * size; i++) {
      out[ch * size * size + i] = f(f(f(data[i * 3 + ch]! / 255) - f(CLIP_MEAN[ch]!)) / f(CLIP_STD[ch]!));
    }
  }
  return out;
}

function fmt(s: Stats): string {
  return `${s.mean.toExponential(2).padStart(9)} ${s.p99.toExponential(2).padStart(9)} ${s.max
    .toExponential(2)
    .padStart(9)} ${String(s.differing).padStart(7)}`;
}

interface Timing {
  /** Median wall time of one image, ms. */
  readonly wall: number;
  /** Process CPU time per image (all threads, libvips' included), ms. */
  readonly cpu: number;
}

/** Runs `images` one after another `runs` times (after a warm-up pass); per-image figures. */
async function timeIt(pre: ImagePreprocessor, images: readonly Buffer[]): Promise<Timing> {
  for (const image of images) await pre.preprocess(image);
  const walls: number[] = [];
  const cpuStart = process.cpuUsage();
  for (let r = 0; r < runs; r++) {
    for (const image of images) {
      const t = performance.now();
      await pre.preprocess(image);
      walls.push(performance.now() - t);
    }
  }
  const cpu = process.cpuUsage(cpuStart);
  walls.sort((a, b) => a - b);
  return { wall: walls[Math.floor(walls.length / 2)]!, cpu: (cpu.user + cpu.system) / 1000 / walls.length };
}

async function parity(pre: ImagePreprocessor): Promise<void> {
  const images = readdirSync(photos).filter((f) => /\.(png|jpe?g)$/i.test(f));
  const hasShared = existsSync(sharedPixels);
  console.log(
    `\nparity with ${pre.options.exactResize ? 'exactResize: true' : 'default options'} (normalized units), ` +
      `${images.length} golden images${hasShared ? '' : ' (no ../shared)'}`,
  );
  console.log(
    `${'image'.padEnd(22)} ${'vs golden PNG: mean'.padStart(19)} ${'p99'.padStart(9)} ${'max'.padStart(9)} ${'diff#'.padStart(7)}   ${'vs .f32: mean'.padStart(13)} ${'p99'.padStart(9)} ${'max'.padStart(9)} ${'diff#'.padStart(7)}`,
  );
  const worst = { mean: 0, p99: 0, max: 0, differing: 0 };
  for (const file of images) {
    const name = file.replace(/\.[^.]+$/, '');
    const { pixels } = await pre.preprocess({ path: path.join(photos, file) });
    const vsPng = compare(pixels, await goldenFromPng(path.join(goldenPng, `${name}.png`)));
    let line = `${name.padEnd(22)} ${fmt(vsPng).padStart(19 + 27)}`;
    const all = [vsPng];
    if (hasShared) {
      const buf = readFileSync(path.join(sharedPixels, `${name}.f32`));
      const ref = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      const vsF32 = compare(pixels, ref);
      all.push(vsF32);
      line += `   ${fmt(vsF32).padStart(13 + 27)}`;
    }
    for (const s of all) {
      worst.mean = Math.max(worst.mean, s.mean);
      worst.p99 = Math.max(worst.p99, s.p99);
      worst.max = Math.max(worst.max, s.max);
      worst.differing = Math.max(worst.differing, s.differing);
    }
    console.log(line);
  }
  console.log(`${'WORST'.padEnd(22)} ${fmt(worst).padStart(19 + 27)}  (targets: mean ≤ 1e-2, p99 ≤ 1e-1)`);
}

async function speed(): Promise<void> {
  const sets: [string, Buffer[]][] = readdirSync(photos)
    .filter((f) => /\.(png|jpe?g)$/i.test(f))
    .map((f) => [f, [readFileSync(path.join(photos, f))]]);
  if (existsSync(caltech)) {
    // The first two images of every class: typical web photos (about 300 × 200 JPEG).
    const files = readdirSync(caltech)
      .sort()
      .flatMap((dir) =>
        readdirSync(path.join(caltech, dir))
          .sort()
          .slice(0, 2)
          .map((f) => path.join(caltech, dir, f)),
      );
    sets.unshift([`caltech101 (${files.length} images)`, files.map((f) => readFileSync(f))]);
  }
  sets.push(['generated 4000x3000 JPEG', [await largeJpeg(4000, 3000)]]);
  sets.push(['generated 6000x4000 JPEG', [await largeJpeg(6000, 4000)]]);
  console.log(
    `\nspeed: ms per image, one at a time, ${runs} runs (wall = median, cpu = all threads / image)`,
  );
  console.log(
    `${'input'.padEnd(30)} ${'size'.padStart(10)} ${'default wall'.padStart(13)} ${'cpu'.padStart(7)} ${'exact wall'.padStart(11)} ${'cpu'.padStart(7)}`,
  );
  for (const [name, images] of sets) {
    const meta = await sharp(images[0]).metadata();
    const size = images.length > 1 ? 'various' : `${meta.width}x${meta.height}`;
    const a = await timeIt(pre, images);
    const b = await timeIt(exactPre, images);
    console.log(
      `${name.padEnd(30)} ${size.padStart(10)} ${a.wall.toFixed(1).padStart(13)} ${a.cpu.toFixed(1).padStart(7)} ${b.wall.toFixed(1).padStart(11)} ${b.cpu.toFixed(1).padStart(7)}`,
    );
  }
}

/** A photo-like camera JPEG: a demo photo enlarged with mild grain (pure noise would be unrealistically slow). */
export async function largeJpeg(width: number, height: number): Promise<Buffer> {
  const base = await sharp(path.join(photos, 'coffee.png'))
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer();
  const grain = await sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#000',
      noise: { type: 'gaussian', mean: 0, sigma: 6 },
    },
  })
    .raw()
    .toBuffer();
  for (let i = 0; i < base.length; i++) base[i] = Math.min(255, Math.max(0, base[i]! + grain[i]! - 3));
  return sharp(base, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

export default async function main(args: string[]): Promise<void> {
  const at = args.indexOf('--runs');
  if (at >= 0) runs = Number(args[at + 1]);
  await parity(pre);
  await parity(exactPre);
  await speed();
}
