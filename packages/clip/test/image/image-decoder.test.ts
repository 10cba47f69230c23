import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import sharp from 'sharp';

import { DecodeDeadline } from '../../src/image/decode-deadline';
import { decodeImage } from '../../src/image/image-decoder';
import { readJpegFrame, sniffImageFormat } from '../../src/image/image-format';
import { InvalidImageError, UnsupportedImageError } from '@clip-search/contracts';
import { flatGreyPng } from '@clip-search/contracts/testing';

const W = 96;
const H = 64;
const limits = { maxPixels: 10_000_000 };

/** A test card: gradients, hard-edged blocks and a few flat colours (few enough for a GIF palette). */
function testCard(width = W, height = H): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const block = ((x >> 4) + (y >> 4)) % 4;
      data[i] = block * 80;
      data[i + 1] = x < width / 2 ? 40 : 200;
      data[i + 2] = y < height / 2 ? 10 : 250;
    }
  }
  return data;
}

const raw = (data: Buffer, width = W, height = H, channels: 1 | 2 | 3 | 4 = 3) =>
  sharp(data, { raw: { width, height, channels } });

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

const card = testCard();

describe('decodeImage: formats', () => {
  test('PNG RGB decodes to the exact bytes', async () => {
    const image = await decodeImage(await raw(card).png().toBuffer(), limits);
    expect(image).toMatchObject({
      width: W,
      height: H,
      channels: 3,
      format: 'png',
      sourceWidth: W,
      sourceHeight: H,
    });
    expect(Buffer.from(image.data).equals(card)).toBe(true);
  });

  test.each([
    ['tiff', () => raw(card).tiff({ compression: 'lzw' })],
    ['webp', () => raw(card).webp({ lossless: true })],
    ['gif', () => raw(card).gif({ dither: 0 })],
    ['png', () => raw(card).png({ palette: true, dither: 0 })],
  ] as const)('lossless %s decodes to the exact bytes', async (format, encode) => {
    const image = await decodeImage(await encode().toBuffer(), limits);
    expect(image.format).toBe(format);
    expect(Buffer.from(image.data).equals(card)).toBe(true);
  });

  test('JPEG decodes close to the source', async () => {
    const bytes = await raw(card).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer();
    const image = await decodeImage(bytes, limits);
    expect(image.format).toBe('jpeg');
    expect(meanAbsDiff(image.data, card)).toBeLessThan(3);
  });

  const avif = sharp.format.heif.input.buffer ? test : test.skip;
  avif('AVIF decodes close to the source', async () => {
    const bytes = await raw(card).avif({ quality: 90 }).toBuffer();
    const image = await decodeImage(bytes, limits);
    expect(image.format).toBe('heif');
    expect(meanAbsDiff(image.data, card)).toBeLessThan(6);
  });

  test('greyscale is replicated to three equal channels', async () => {
    const grey = Buffer.from(Array.from({ length: W * H }, (_, i) => i % 251));
    const image = await decodeImage(await raw(grey, W, H, 1).png().toBuffer(), limits);
    const expected = Buffer.alloc(W * H * 3);
    grey.forEach((v, i) => expected.fill(v, i * 3, i * 3 + 3));
    expect(Buffer.from(image.data).equals(expected)).toBe(true);
  });

  test('alpha is dropped without compositing, as PIL convert("RGB") does', async () => {
    // Fully transparent pixels keep their colour: compositing on black or white would change it.
    const rgba = Buffer.alloc(W * H * 4);
    for (let i = 0; i < W * H; i++) {
      rgba.set(
        [card[i * 3]!, card[i * 3 + 1]!, card[i * 3 + 2]!, i % 3 === 0 ? 0 : i % 3 === 1 ? 128 : 255],
        i * 4,
      );
    }
    const image = await decodeImage(await raw(rgba, W, H, 4).png().toBuffer(), limits);
    expect(Buffer.from(image.data).equals(card)).toBe(true);
  });

  test('grey + alpha keeps the grey', async () => {
    const la = Buffer.alloc(W * H * 4);
    for (let i = 0; i < W * H; i++) la.set([i % 200, i % 200, i % 200, i % 2 ? 0 : 255], i * 4);
    const bytes = await raw(la, W, H, 4).toColourspace('b-w').png().toBuffer();
    expect((await sharp(bytes).metadata()).channels).toBe(2);
    const image = await decodeImage(bytes, limits);
    expect(Array.from(image.data.subarray(0, 9))).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
  });

  test('16-bit samples are reduced to their high byte', async () => {
    const samples = new Uint16Array(W * H * 3);
    for (let i = 0; i < samples.length; i++) samples[i] = (card[i]! << 8) | (i & 255);
    const bytes = await sharp(samples, { raw: { width: W, height: H, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(bytes).metadata()).depth).toBe('ushort');
    const image = await decodeImage(bytes, limits);
    expect(Buffer.from(image.data).equals(card)).toBe(true);
  });

  test("CMYK is converted with PIL's formula, not a colour-managed transform", async () => {
    const bytes = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#c83c14' } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer();
    expect(readJpegFrame(bytes)?.components).toBe(4);
    const cmyk = await sharp(bytes).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer();
    const [c, m, y, k] = [cmyk[0]!, cmyk[1]!, cmyk[2]!, cmyk[3]!];
    // PIL cmyk2rgb: (255 − K) · (1 − C/255), in 8-bit rounding.
    const pil = [c, m, y].map((v) => Math.round((255 - k) * (1 - v / 255)));
    const image = await decodeImage(bytes, limits);
    const got = Array.from(image.data.subarray(0, 3));
    expect(Math.max(...got.map((v, i) => Math.abs(v - pil[i]!)))).toBeLessThanOrEqual(1);
    const managed = Array.from((await sharp(bytes).raw().toBuffer()).subarray(0, 3));
    expect(Math.max(...got.map((v, i) => Math.abs(v - managed[i]!)))).toBeGreaterThan(10);
  });

  test.each(['gif', 'webp', 'tiff'] as const)('multi-frame %s: the first frame only', async (format) => {
    // Two frames stacked: red then blue.
    const frames = Buffer.alloc(W * H * 2 * 3);
    for (let i = 0; i < W * H * 2; i++) frames.set(i < W * H ? [255, 0, 0] : [0, 0, 255], i * 3);
    const encoder = sharp(frames, { raw: { width: W, height: H * 2, channels: 3, pageHeight: H } });
    const bytes = await (
      format === 'tiff' ? encoder.tiff({ compression: 'lzw' }) : encoder[format]()
    ).toBuffer();
    expect((await sharp(bytes).metadata()).pages).toBe(2);
    const image = await decodeImage(bytes, limits);
    expect([image.width, image.height]).toEqual([W, H]);
    for (let i = 0; i < W * H; i += 97) {
      expect(image.data[i * 3]).toBeGreaterThan(250);
      expect(image.data[i * 3 + 2]).toBeLessThan(5);
    }
  });

  test('EXIF orientation is applied (6: turn a quarter clockwise)', async () => {
    // Left half red, right half blue; turned clockwise, red is on top.
    const halves = Buffer.alloc(W * H * 3);
    for (let i = 0; i < W * H; i++) halves.set(i % W < W / 2 ? [255, 0, 0] : [0, 0, 255], i * 3);
    const bytes = await raw(halves).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const image = await decodeImage(bytes, limits);
    expect([image.width, image.height, image.sourceWidth, image.sourceHeight]).toEqual([H, W, H, W]);
    const pixel = (x: number, y: number) =>
      Array.from(image.data.subarray((y * H + x) * 3, (y * H + x) * 3 + 3));
    expect(pixel(H / 2, 5)[0]).toBeGreaterThan(240);
    expect(pixel(H / 2, W - 5)[2]).toBeGreaterThan(240);
  });
});

describe('decodeImage: the reduce option', () => {
  const reduce = { shortSide: 300, minFactor: 4 / 3 };

  test('a large JPEG is reduced on load to the asked short side, reporting its full size', async () => {
    const bytes = await raw(testCard(1200, 900), 1200, 900).jpeg().toBuffer();
    const image = await decodeImage(bytes, { ...limits, reduce });
    expect([image.width, image.height]).toEqual([400, 300]);
    expect([image.sourceWidth, image.sourceHeight]).toEqual([1200, 900]);
  });

  test('the full size of a reduced JPEG follows its EXIF orientation', async () => {
    const bytes = await raw(testCard(1200, 900), 1200, 900)
      .jpeg()
      .withMetadata({ orientation: 8 })
      .toBuffer();
    const image = await decodeImage(bytes, { ...limits, reduce });
    expect([image.width, image.height, image.sourceWidth, image.sourceHeight]).toEqual([300, 400, 900, 1200]);
  });

  test('below the threshold nothing is reduced', async () => {
    const bytes = await raw(testCard(399, 390), 399, 390).jpeg().toBuffer();
    const image = await decodeImage(bytes, { ...limits, reduce });
    expect([image.width, image.height]).toEqual([399, 390]);
  });

  test('a large RGBA PNG is reduced after its alpha is dropped (no premultiplication)', async () => {
    // Transparent pixels carry white; premultiplied resizing would turn them black.
    const rgba = Buffer.alloc(800 * 600 * 4);
    for (let i = 0; i < 800 * 600; i++) rgba.set([255, 255, 255, 0], i * 4);
    const image = await decodeImage(await raw(rgba, 800, 600, 4).png().toBuffer(), { ...limits, reduce });
    expect([image.width, image.height, image.sourceWidth, image.sourceHeight]).toEqual([400, 300, 800, 600]);
    expect(image.data.every((v) => v === 255)).toBe(true);
  });
});

describe('decodeImage: sides, aspect ratio and time are bounded', () => {
  const flat = (width: number, height: number) =>
    sharp({ create: { width, height, channels: 3, background: '#808080' } });

  test('a 1 x 99,999,999 PNG (under the pixel limit) is refused from its header, at once', async () => {
    const tall = await flatGreyPng(1, 99_999_999);
    expect(tall.length).toBeLessThan(300_000);
    const started = performance.now();
    const error = await rejection(decodeImage(tall, { maxPixels: 100_000_000 }));
    // Decoding it takes minutes; the header check takes milliseconds (bound generous for a loaded machine).
    expect(performance.now() - started).toBeLessThan(5000);
    expect(error).toBeInstanceOf(InvalidImageError);
    expect((error as Error).message).toMatch(/1x99999999 .*32767-pixel side limit \(MAX_IMAGE_SIDE\)/);
  }, 20_000);

  test('a side over maxSide is refused, in every format, JPEG from its own frame header', async () => {
    for (const format of ['jpeg', 'png', 'webp', 'gif', 'tiff'] as const) {
      const bytes = await flat(1200, 900).toFormat(format).toBuffer();
      const error = await rejection(decodeImage(bytes, { ...limits, maxSide: 1000 }));
      expect(error).toBeInstanceOf(InvalidImageError);
      expect((error as Error).message).toMatch(/1200x900 has a side over the 1000-pixel side limit/);
      await expect(decodeImage(bytes, { ...limits, maxSide: 1200 })).resolves.toMatchObject({ width: 1200 });
    }
  });

  test('a strip over the aspect ratio limit is refused; a panorama passes', async () => {
    const strip = await flat(30_000, 10).png().toBuffer();
    const error = await rejection(decodeImage(strip, { maxPixels: 100_000_000 }));
    expect(error).toBeInstanceOf(InvalidImageError);
    expect((error as Error).message).toMatch(
      /30000x10 has an aspect ratio of 3000:1, over the 50:1 limit \(MAX_IMAGE_ASPECT_RATIO\)/,
    );
    const tallJpeg = await flat(10, 600).jpeg().toBuffer();
    await expect(decodeImage(tallJpeg, { ...limits, maxAspectRatio: 20 })).rejects.toThrow(/60\.0:1/);
    const panorama = await flat(8000, 1000).jpeg().toBuffer();
    await expect(decodeImage(panorama, { maxPixels: 100_000_000 })).resolves.toMatchObject({ width: 8000 });
  });

  test('a decode longer than the time limit is stopped inside libvips and refused', async () => {
    // 20 million one-pixel rows take libvips well over a second; allowed here only to be timed out.
    const slow = await flatGreyPng(1, 20_000_000);
    const started = performance.now();
    const error = await rejection(
      decodeImage(slow, {
        maxPixels: 100_000_000,
        maxSide: 100_000_000,
        maxAspectRatio: 100_000_000,
        deadline: new DecodeDeadline(1000),
      }),
    );
    expect(error).toBeInstanceOf(InvalidImageError);
    // "stopped at n%": libvips' own timeout killed the pipeline part way, it did not run to the end.
    expect((error as Error).message).toMatch(
      /longer than the 1000 ms limit \(IMAGE_DECODE_TIMEOUT_MS\); stopped at \d+%/,
    );
    expect(performance.now() - started).toBeLessThan(10_000);
  }, 30_000);

  test('an aborted decode rejects with the abort reason, not as a bad image', async () => {
    const controller = new AbortController();
    const reason = new Error('the client went away');
    controller.abort(reason);
    const bytes = await raw(card).png().toBuffer();
    const deadline = new DecodeDeadline(10_000, controller.signal);
    await expect(decodeImage(bytes, { ...limits, deadline })).rejects.toBe(reason);
  });
});

describe('decodeImage: refusing bad input with typed errors', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'clip-decoder-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('more pixels than maxPixels is refused from the header, before decoding', async () => {
    // A 3000 × 3000 flat JPEG is a few kB: the shape of a decompression bomb.
    const bomb = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#808080' } })
      .jpeg()
      .toBuffer();
    expect(bomb.length).toBeLessThan(1_000_000);
    const error = await rejection(decodeImage(bomb, { maxPixels: 1_000_000 }));
    expect(error).toBeInstanceOf(InvalidImageError);
    expect((error as Error).message).toMatch(/1000000-pixel limit/);
    for (const format of ['png', 'webp'] as const) {
      const flat = sharp({ create: { width: 1100, height: 1000, channels: 3, background: '#808080' } });
      const big = await flat.toFormat(format).toBuffer();
      await expect(decodeImage(big, { maxPixels: 1_000_000 })).rejects.toThrow(/pixel limit/);
      await expect(decodeImage(big, { maxPixels: 1_100_000 })).resolves.toMatchObject({ width: 1100 });
    }
  });

  test('a truncated JPEG is an error, not grey filler', async () => {
    const jpeg = await raw(testCard(400, 300), 400, 300).jpeg().toBuffer();
    for (const cut of [0.5, 0.9]) {
      const error = await rejection(decodeImage(jpeg.subarray(0, Math.floor(jpeg.length * cut)), limits));
      expect(error).toBeInstanceOf(InvalidImageError);
      expect((error as Error).message).toMatch(/cannot decode jpeg/);
    }
  });

  test('a truncated or corrupt PNG is an error', async () => {
    const png = await raw(testCard(400, 300), 400, 300).png().toBuffer();
    await expect(decodeImage(png.subarray(0, Math.floor(png.length / 2)), limits)).rejects.toBeInstanceOf(
      InvalidImageError,
    );
    const corrupt = Buffer.from(png);
    for (let i = 100; i < 400; i++) corrupt[i]! ^= 0x5a;
    await expect(decodeImage(corrupt, limits)).rejects.toBeInstanceOf(InvalidImageError);
  });

  test('a JPEG header followed by junk is an error', async () => {
    const jpeg = await raw(card).jpeg().toBuffer();
    const junk = Buffer.concat([jpeg.subarray(0, 200), Buffer.alloc(4000, 0x37)]);
    await expect(decodeImage(junk, limits)).rejects.toBeInstanceOf(InvalidImageError);
  });

  test('empty input, text, random bytes, a missing file and a directory', async () => {
    const text = path.join(dir, 'notes.txt');
    writeFileSync(text, 'this is not an image\n');
    const cases: [Parameters<typeof decodeImage>[0], RegExp][] = [
      [new Uint8Array(0), /empty/],
      [Buffer.from('just some text'), /not a recognised image/],
      [Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) & 255), /not a recognised image/],
      [{ path: text }, /not a recognised image/],
      [{ path: path.join(dir, 'missing.jpg') }, /ENOENT/],
      [{ path: dir }, /EISDIR/],
    ];
    for (const [input, message] of cases) {
      const error = await rejection(decodeImage(input, limits));
      expect(error).toBeInstanceOf(InvalidImageError);
      expect((error as InvalidImageError).type).toBe('invalid-image');
      expect((error as Error).message).toMatch(message);
    }
    writeFileSync(path.join(dir, 'empty.png'), '');
    await expect(decodeImage({ path: path.join(dir, 'empty.png') }, limits)).rejects.toThrow(/is empty/);
  });

  test('SVG is refused as unsupported, never rendered', async () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>';
    for (const text of [svg, `<?xml version="1.0"?>\n${svg}`, `\ufeff  \n${svg}`]) {
      const error = await rejection(decodeImage(Buffer.from(text), limits));
      expect(error).toBeInstanceOf(UnsupportedImageError);
      expect((error as UnsupportedImageError).type).toBe('unsupported-image');
      expect((error as Error).message).toMatch(/SVG/);
    }
  });

  test('HEIC, PDF and BMP are refused as unsupported', async () => {
    const ftyp = (brand: string) =>
      Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from(`ftyp${brand}\0\0\0\0mif1${brand}`)]);
    await expect(decodeImage(ftyp('heic'), limits)).rejects.toThrow(/HEIC/);
    await expect(decodeImage(Buffer.from('%PDF-1.7\n...'), limits)).rejects.toBeInstanceOf(
      UnsupportedImageError,
    );
    await expect(decodeImage(Buffer.from('BM\x36\0\0\0\0\0'), limits)).rejects.toBeInstanceOf(
      UnsupportedImageError,
    );
  });
});

describe('sniffImageFormat / readJpegFrame', () => {
  test('recognises each accepted format from its first bytes', async () => {
    const encoded = {
      jpeg: await raw(card).jpeg().toBuffer(),
      png: await raw(card).png().toBuffer(),
      webp: await raw(card).webp().toBuffer(),
      gif: await raw(card).gif().toBuffer(),
      tiff: await raw(card).tiff().toBuffer(),
      heif: await raw(card).avif().toBuffer(),
    };
    for (const [format, bytes] of Object.entries(encoded)) {
      expect(sniffImageFormat(bytes.subarray(0, 64))).toEqual({ kind: 'raster', format });
    }
    expect(sniffImageFormat(Buffer.from('MM\0\x2b'))).toEqual({ kind: 'raster', format: 'tiff' }); // BigTIFF
  });

  test('reads a JPEG frame header behind APP segments', async () => {
    const bytes = await raw(card).jpeg().withMetadata({ orientation: 3 }).toBuffer();
    expect(readJpegFrame(bytes)).toEqual({ width: W, height: H, components: 3 });
    expect(readJpegFrame(bytes.subarray(0, 20))).toBeUndefined();
    expect(readJpegFrame(Buffer.from('not a jpeg'))).toBeUndefined();
  });
});
