/**
 * Recognising an image by its first bytes, before any decoder sees it. Only the raster formats we accept
 * reach sharp; everything else is refused here, so an upload never drives a decoder we did not choose
 * (SVG through librsvg, say) just because libvips happens to have one.
 */

/** Formats handed to sharp. `heif` means AVIF: the prebuilt libvips decodes AV1 but not HEVC. */
export type RasterFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'heif';

export type SniffResult =
  | { readonly kind: 'raster'; readonly format: RasterFormat }
  /** A format we recognise and refuse on purpose (HTTP 415). */
  | { readonly kind: 'refused'; readonly format: string; readonly reason: string }
  | { readonly kind: 'unknown' };

/** How many leading bytes {@link sniffImageFormat} wants (more is fine, fewer may miss an AVIF brand). */
export const SNIFF_BYTES = 64;

function ascii(bytes: Uint8Array, start: number, length: number): string {
  if (start + length > bytes.length) return '';
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  if (bytes.length < magic.length) return false;
  return magic.every((b, i) => bytes[i] === b);
}

/** The ISO-BMFF `ftyp` box: major brand at 8, compatible brands after the minor version. */
function sniffFtyp(bytes: Uint8Array): SniffResult {
  const boxSize = view(bytes).getUint32(0);
  const end = Math.min(bytes.length, boxSize);
  const brands = [ascii(bytes, 8, 4)];
  for (let at = 16; at + 4 <= end; at += 4) brands.push(ascii(bytes, at, 4));
  if (brands.some((b) => b === 'avif' || b === 'avis')) return { kind: 'raster', format: 'heif' };
  if (brands.some((b) => ['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1'].includes(b))) {
    return {
      kind: 'refused',
      format: 'heic',
      reason: 'HEIC (HEVC-coded HEIF) cannot be decoded by this build; AVIF can',
    };
  }
  return { kind: 'refused', format: `iso-bmff/${brands[0] ?? ''}`, reason: 'a video or other ISO-BMFF file' };
}

/** First byte that is not whitespace, after an optional UTF-8 byte-order mark. */
function firstTextByte(bytes: Uint8Array): number | undefined {
  let i = startsWith(bytes, [0xef, 0xbb, 0xbf]) ? 3 : 0;
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)
  ) {
    i++;
  }
  return bytes[i];
}

export function sniffImageFormat(head: Uint8Array): SniffResult {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return { kind: 'raster', format: 'jpeg' };
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    return { kind: 'raster', format: 'png' };
  const six = ascii(head, 0, 6);
  if (six === 'GIF87a' || six === 'GIF89a') return { kind: 'raster', format: 'gif' };
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 4) === 'WEBP') return { kind: 'raster', format: 'webp' };
  // Classic TIFF (42) and BigTIFF (43), either byte order.
  if (
    startsWith(head, [0x49, 0x49, 0x2a, 0x00]) ||
    startsWith(head, [0x4d, 0x4d, 0x00, 0x2a]) ||
    startsWith(head, [0x49, 0x49, 0x2b, 0x00]) ||
    startsWith(head, [0x4d, 0x4d, 0x00, 0x2b])
  ) {
    return { kind: 'raster', format: 'tiff' };
  }
  if (ascii(head, 4, 4) === 'ftyp') return sniffFtyp(head);
  if (ascii(head, 0, 5) === '%PDF-') return { kind: 'refused', format: 'pdf', reason: 'PDF is a document' };
  if (ascii(head, 0, 2) === 'BM') return { kind: 'refused', format: 'bmp', reason: 'BMP is not supported' };
  if (startsWith(head, [0x1f, 0x8b])) {
    return { kind: 'refused', format: 'gzip', reason: 'compressed files (including SVGZ) are not images' };
  }
  // SVG (and any XML) is refused, not rendered: PIL cannot open SVG, so there is no reference to match;
  // librsvg would parse untrusted XML/CSS and run filters whose cost the header does not bound (a
  // hang risk maxPixels cannot catch); and the raster size of a vector document is arbitrary.
  if (firstTextByte(head) === 0x3c) {
    return { kind: 'refused', format: 'svg', reason: 'SVG and other XML documents are not accepted' };
  }
  return { kind: 'unknown' };
}

/** What a JPEG's frame header (SOFn) says, before any decoding. Dimensions are as stored (before EXIF). */
export interface JpegFrame {
  readonly width: number;
  readonly height: number;
  /** 1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK. */
  readonly components: number;
}

/**
 * The frame header of a JPEG, or undefined when it is not within `bytes` (or declares its height later,
 * which libjpeg allows and nobody uses). Walks the marker segments from SOI.
 */
export function readJpegFrame(bytes: Uint8Array): JpegFrame | undefined {
  const data = view(bytes);
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (data.getUint8(at) !== 0xff) return undefined;
    const marker = data.getUint8(at + 1);
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (at + 10 > bytes.length) return undefined;
      const height = data.getUint16(at + 5);
      const width = data.getUint16(at + 7);
      const components = data.getUint8(at + 9);
      return height > 0 && width > 0 ? { width, height, components } : undefined;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan or end before any frame header
    at += 2 + data.getUint16(at + 2);
  }
  return undefined;
}
