import sharp from 'sharp';
import { sniffImageFormat } from './image-format';
import { InvalidImageError, UnsupportedImageError } from '@clip-search/contracts';

export interface ThumbnailOptions {
  /** The longer side of the thumbnail, in pixels; smaller images are not enlarged. */
  readonly size: number;
  /** Images with more pixels are refused before decoding (decompression bombs). */
  readonly maxPixels: number;
  /** JPEG quality, 1–100 (default 80). */
  readonly quality?: number;
}

export interface Thumbnail {
  readonly data: Buffer;
  readonly contentType: 'image/jpeg';
  readonly width: number;
  readonly height: number;
}

/**
 * A JPEG preview of an image for result lists: EXIF orientation applied, longer side `size`, colours
 * converted to sRGB (a preview is for eyes, unlike the model's input), transparency flattened on white.
 * Only the raster formats the embedder accepts are decoded (the same byte sniffing), so a thumbnail
 * never drives a decoder an upload could not reach. Throws InvalidImageError or UnsupportedImageError.
 */
export async function renderThumbnail(bytes: Uint8Array, options: ThumbnailOptions): Promise<Thumbnail> {
  const sniffed = sniffImageFormat(bytes.subarray(0, 64));
  if (sniffed.kind === 'unknown') throw new InvalidImageError('not a recognised image format');
  if (sniffed.kind === 'refused') throw new UnsupportedImageError(sniffed.reason);
  try {
    const { data, info } = await sharp(bytes, {
      failOn: 'error',
      limitInputPixels: options.maxPixels,
      autoOrient: true,
      animated: false,
    })
      .resize({ width: options.size, height: options.size, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .jpeg({ quality: options.quality ?? 80 })
      .toBuffer({ resolveWithObject: true });
    return { data, contentType: 'image/jpeg', width: info.width, height: info.height };
  } catch (error) {
    const message = error instanceof Error ? error.message.trim() : String(error);
    throw new InvalidImageError(`cannot make a thumbnail of this ${sniffed.format}: ${message}`, {
      cause: error,
    });
  }
}
