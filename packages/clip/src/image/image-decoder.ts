/**
 * Decoding an untrusted image to 8-bit RGB pixels the way PIL's `Image.open(...).convert('RGB')` sees them,
 * with sharp (libvips) doing the decoding:
 *  - EXIF orientation applied (`ImageOps.exif_transpose` in the reference);
 *  - embedded ICC profiles ignored, because PIL ignores them: converting to sRGB moves pixels by up to
 *    34 levels on the golden photos that carry a profile;
 *  - alpha dropped without compositing (PIL's RGBA → RGB keeps the colour under transparent pixels);
 *  - greyscale replicated to three channels, 16-bit samples reduced to their high byte (PIL does that
 *    for 16-bit RGB; for 16-bit greyscale PIL clips to 255, which whitens the image, and we do not copy it);
 *  - CMYK converted with PIL's naive formula instead of libvips' colour-managed transform;
 *  - the first frame of an animated GIF/WebP, the first page of a TIFF.
 *
 * Safety: the format is recognised from its bytes before any decoder runs (see image-format.ts), so SVG is
 * never rendered; the pixel count, each side and the aspect ratio are checked from the header before
 * decoding (decompression bombs, and strips whose row count alone costs minutes: image-limits.ts); every
 * libvips pipeline runs under the decode's time limit, and the JS stages check it and the caller's
 * AbortSignal between stages (decode-deadline.ts); and sharp fails on truncated or corrupt data
 * (`failOn: 'error'`) instead of returning grey filler, as PIL does too.
 *
 * A libvips pipeline already running cannot be cancelled: sharp offers no cancellation (its only stop is
 * `timeout()`, checked from libvips' progress callback), so an aborted caller's running decode ends at
 * the time limit at the latest; the caller's decodes not yet started are the ones an abort saves.
 */
import { open } from 'node:fs/promises';

import sharp from 'sharp';

import { InvalidImageError, UnsupportedImageError } from '@clip-search/contracts';
import { DecodeDeadline } from './decode-deadline';
import {
  DEFAULT_IMAGE_DECODE_TIMEOUT_MS,
  DEFAULT_IMAGE_LIMITS,
  type ImageLimits,
} from '@clip-search/contracts';
import type { ImageInput } from '@clip-search/contracts';
import { type JpegFrame, type RasterFormat, readJpegFrame, sniffImageFormat } from './image-format';
import { checkImageSize } from './image-limits';
import type { PixelBuffer } from './pil-resample';

/**
 * Let libvips do most of a large downscale: when the image's short side is at least `shortSide × minFactor`,
 * it is reduced (Lanczos 3, JPEG shrink-on-load by up to half the factor) so that its short side is about
 * `shortSide`. Not bit-exact with PIL any more, but close when `shortSide` leaves Pillow's bicubic a
 * reduction of 3× or more to finish (see image-preprocessor.ts), and much faster on camera photos.
 */
export interface ReduceOptions {
  readonly shortSide: number;
  readonly minFactor: number;
}

/** The limits are checked from the header, before decoding; those left out take their defaults. */
export interface DecodeOptions extends Partial<ImageLimits> {
  readonly maxPixels: number;
  readonly reduce?: ReduceOptions;
  /**
   * The time limit and the caller's signal; a preprocessor passes its own so that one limit covers the
   * decode and its resize. Default: a fresh DEFAULT_IMAGE_DECODE_TIMEOUT_MS limit.
   */
  readonly deadline?: DecodeDeadline;
}

/** Interleaved 8-bit RGB, rows packed; possibly reduced, see `sourceWidth`/`sourceHeight`. */
export interface DecodedImage extends PixelBuffer {
  readonly channels: 3;
  readonly format: RasterFormat;
  /** Size of the full image after EXIF orientation (equals width × height unless reduced). */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
}

/** Enough for the sniffer and, nearly always, for a JPEG's frame header behind its EXIF and ICC segments. */
const HEADER_BYTES = 64 * 1024;

interface Source {
  /** What sharp reads: the caller's bytes, or the file path (sharp streams it). */
  readonly sharpInput: Buffer | string;
  readonly head: Uint8Array;
  /** For messages. */
  readonly label: string;
}

async function readSource(input: ImageInput): Promise<Source> {
  if (input instanceof Uint8Array) {
    const bytes = Buffer.isBuffer(input)
      ? input
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    return { sharpInput: bytes, head: bytes.subarray(0, HEADER_BYTES), label: 'image bytes' };
  }
  const label = `image file ${input.path}`;
  try {
    const file = await open(input.path, 'r');
    try {
      const head = Buffer.alloc(HEADER_BYTES);
      const { bytesRead } = await file.read(head, 0, HEADER_BYTES, 0);
      return { sharpInput: input.path, head: head.subarray(0, bytesRead), label };
    } finally {
      await file.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'read error';
    throw new InvalidImageError(`cannot read ${label}: ${code}`, { cause: error });
  }
}

/** PIL's `cmyk2rgb`: no colour management, K applied multiplicatively (MULDIV255 rounding). */
function cmykToRgb(cmyk: Uint8Array, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  /* eslint-disable @typescript-eslint/no-non-null-assertion -- in range by construction (hot loop) */
  for (let i = 0, o = 0, p = 0; i < pixels; i++, p += 4) {
    const nk = 255 - cmyk[p + 3]!;
    for (let ch = 0; ch < 3; ch++, o++) {
      const t = cmyk[p + ch]! * nk + 128;
      rgb[o] = nk - ((t + (t >> 8)) >> 8);
    }
  }
  /* eslint-enable @typescript-eslint/no-non-null-assertion */
  return rgb;
}

/** What we need to know before choosing a pipeline, all from the header. */
interface Probe {
  readonly cmyk: boolean;
  /** As stored (EXIF orientation does not change what the limits see). */
  readonly width: number;
  readonly height: number;
  /** JPEG only: the stored frame size, to decide on shrink-on-load. */
  readonly frame?: JpegFrame;
}

async function probe(format: RasterFormat, source: Source): Promise<Probe> {
  const frame = format === 'jpeg' ? readJpegFrame(source.head) : undefined;
  if (frame) return { cmyk: frame.components === 4, width: frame.width, height: frame.height, frame };
  // libvips reads only the header here (a JPEG's frame header may sit behind more than HEADER_BYTES of
  // metadata); for a GIF it is the logical screen, for a TIFF its first page.
  const m = await sharp(source.sharpInput, { animated: false }).metadata();
  const cmyk = (format === 'jpeg' || format === 'tiff') && m.space === 'cmyk';
  return { cmyk, width: m.width, height: m.height };
}

function shouldReduce(
  width: number,
  height: number,
  reduce: ReduceOptions | undefined,
): reduce is ReduceOptions {
  return reduce !== undefined && Math.min(width, height) >= reduce.shortSide * reduce.minFactor;
}

/**
 * Decodes to PIL-equivalent RGB (reduced when `options.reduce` says so). Throws InvalidImageError or
 * UnsupportedImageError, or the deadline's abort reason; never hangs.
 */
export async function decodeImage(input: ImageInput, options: DecodeOptions): Promise<DecodedImage> {
  const limits: ImageLimits = {
    maxPixels: options.maxPixels,
    maxSide: options.maxSide ?? DEFAULT_IMAGE_LIMITS.maxSide,
    maxAspectRatio: options.maxAspectRatio ?? DEFAULT_IMAGE_LIMITS.maxAspectRatio,
  };
  const deadline = options.deadline ?? new DecodeDeadline(DEFAULT_IMAGE_DECODE_TIMEOUT_MS);
  deadline.check();
  const source = await readSource(input);
  if (source.head.length === 0) throw new InvalidImageError(`${source.label} is empty`);
  const sniffed = sniffImageFormat(source.head);
  switch (sniffed.kind) {
    case 'unknown':
      throw new InvalidImageError(`${source.label}: not a recognised image format`);
    case 'refused':
      throw new UnsupportedImageError(`${source.label}: ${sniffed.reason}`);
    case 'raster':
      break;
  }
  const { format } = sniffed;
  try {
    const { cmyk, width, height, frame } = await probe(format, source);
    checkImageSize(width, height, limits, source.label);
    deadline.check();
    if (frame && !cmyk && shouldReduce(frame.width, frame.height, options.reduce)) {
      return await decodeReducedJpeg(source, limits.maxPixels, options.reduce, deadline);
    }
    const full = await decodeFull(source, format, cmyk, limits.maxPixels, deadline);
    deadline.check();
    return shouldReduce(full.width, full.height, options.reduce)
      ? await reduceRaw(full, options.reduce, deadline)
      : full;
  } catch (error) {
    throw decodeError(error, source.label, format, limits.maxPixels, deadline);
  }
}

function openSharp(source: Source, maxPixels: number, deadline: DecodeDeadline): sharp.Sharp {
  return withTimeout(
    sharp(source.sharpInput, {
      // 'error' rejects truncated and corrupt data; 'warning' would also reject the harmless libjpeg
      // warnings (extraneous bytes before a marker) that many camera files carry and PIL accepts.
      failOn: 'error',
      limitInputPixels: maxPixels,
      ignoreIcc: true,
      autoOrient: true,
      animated: false,
    }),
    deadline,
  );
}

/** The remaining time as libvips' own limit: it stops the pipeline, which JS cannot interrupt. */
function withTimeout(pipeline: sharp.Sharp, deadline: DecodeDeadline): sharp.Sharp {
  return pipeline.timeout({ seconds: deadline.sharpSeconds() });
}

async function decodeFull(
  source: Source,
  format: RasterFormat,
  cmyk: boolean,
  maxPixels: number,
  deadline: DecodeDeadline,
): Promise<DecodedImage> {
  const pipeline = openSharp(source, maxPixels, deadline);
  if (cmyk) pipeline.pipelineColourspace('cmyk').toColourspace('cmyk');
  else pipeline.removeAlpha().toColourspace('srgb');
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const pixels = info.width * info.height;
  if (cmyk) deadline.check();
  const rgb = cmyk ? cmykToRgb(data, pixels) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (rgb.length !== pixels * 3) {
    throw new Error(`decoder returned ${info.channels} channels of ${info.width}x${info.height}`);
  }
  const { width, height } = info;
  return { data: rgb, width, height, channels: 3, format, sourceWidth: width, sourceHeight: height };
}

/** One libvips pipeline: JPEG shrink-on-load, orientation, Lanczos reduction. JPEG has no alpha to spoil. */
async function decodeReducedJpeg(
  source: Source,
  maxPixels: number,
  reduce: ReduceOptions,
  deadline: DecodeDeadline,
): Promise<DecodedImage> {
  // The full size after EXIF orientation, which the resize geometry is computed from.
  const { autoOrient } = await sharp(source.sharpInput).metadata();
  const { data, info } = await openSharp(source, maxPixels, deadline)
    // 'outside' with a square box: the short side becomes `shortSide` whatever the EXIF rotation.
    // fastShrinkOnLoad false keeps at least a 2× Lanczos step after the DCT-domain shrink, whose
    // aliasing shows otherwise (a DCT 2× then 1.6× Lanczos step cost up to 0.5 normalized on retina.jpg).
    .resize(reduce.shortSide, reduce.shortSide, {
      fit: 'outside',
      kernel: 'lanczos3',
      fastShrinkOnLoad: false,
    })
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (data.length !== info.width * info.height * 3)
    throw new Error(`decoder returned ${info.channels} channels`);
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: 3,
    format: 'jpeg',
    sourceWidth: autoOrient.width,
    sourceHeight: autoOrient.height,
  };
}

/** The same reduction for formats without shrink-on-load, from RGB whose alpha is already gone. */
async function reduceRaw(
  image: DecodedImage,
  reduce: ReduceOptions,
  deadline: DecodeDeadline,
): Promise<DecodedImage> {
  const pipeline = sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: 3 },
    limitInputPixels: false,
  });
  const { data, info } = await withTimeout(pipeline, deadline)
    .resize(reduce.shortSide, reduce.shortSide, { fit: 'outside', kernel: 'lanczos3' })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return {
    ...image,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
  };
}

function decodeError(
  error: unknown,
  label: string,
  format: RasterFormat,
  maxPixels: number,
  deadline: DecodeDeadline,
): unknown {
  // The caller's abort and our own refusals (limits, time) travel as they are.
  if (deadline.isAbort(error) || error instanceof InvalidImageError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    return new InvalidImageError(`${label}: more than the ${maxPixels}-pixel limit (MAX_IMAGE_PIXELS)`, {
      cause: error,
    });
  }
  // sharp's timeout: "timeout: 35% complete" (and libvips' "killed for image …" on the next line).
  const stopped = /timeout: (\d+)% complete/.exec(message);
  if (stopped) return deadline.timeoutError(`stopped at ${stopped[1]}%`);
  return new InvalidImageError(`${label}: cannot decode ${format}: ${message.trim()}`, { cause: error });
}
