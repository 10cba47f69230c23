/**
 * How large and how long an untrusted image may be, checked from its header before any decoder runs.
 *
 * The pixel count alone does not bound the cost of a decode: libvips decodes a PNG row by row, at a
 * fixed cost per row, so a 1 × 99,999,999 greyscale PNG (194 kB, under a 10⁸-pixel limit) kept a core
 * busy for minutes and took 300 MB. Bounding each side bounds the rows (and columns); bounding the aspect
 * ratio refuses strips whose CLIP centre crop would keep almost nothing of the image anyway.
 *
 * The defaults live here (not only in the configuration) so that code building a preprocessor without
 * the environment (tests, benches, the CLI) gets the same protection.
 */
import { InvalidImageError } from '../errors/clip-search-error';

export interface ImageLimits {
  /** Refuse images with more pixels than this (`MAX_IMAGE_PIXELS`). */
  readonly maxPixels: number;
  /** Refuse images whose width or height exceeds this (`MAX_IMAGE_SIDE`). */
  readonly maxSide: number;
  /** Refuse images whose long side is more than this many times the short side (`MAX_IMAGE_ASPECT_RATIO`). */
  readonly maxAspectRatio: number;
}

export const DEFAULT_MAX_IMAGE_PIXELS = 100_000_000;

/**
 * 32,767: the largest canvas side of Chrome and Firefox, so any image a browser can show passes. Pillow
 * and sharp limit only the pixel count, and formats allow more (JPEG 65,535) or less (WebP 16,383); the
 * largest camera sensors are about 14,200 px wide, and stitched panoramas under the pixel limit
 * (20,000 × 4,000) exceed 16,384. Up to 32,767 rows decode in well under a second.
 */
export const DEFAULT_MAX_IMAGE_SIDE = 32_767;

/**
 * 50:1 lets through equirectangular (2:1) and phone sweep panoramas (4–10:1), long stitched panoramas
 * and full-page scrolling screenshots (1170 × 25,000 is 21:1); past that the 224 px centre crop CLIP
 * sees keeps under 2 % of the image.
 */
export const DEFAULT_MAX_IMAGE_ASPECT_RATIO = 50;

export const DEFAULT_IMAGE_LIMITS: ImageLimits = {
  maxPixels: DEFAULT_MAX_IMAGE_PIXELS,
  maxSide: DEFAULT_MAX_IMAGE_SIDE,
  maxAspectRatio: DEFAULT_MAX_IMAGE_ASPECT_RATIO,
};

/** Throws InvalidImageError naming the limit (and its variable) that a width × height image breaks. */
export function checkImageSize(width: number, height: number, limits: ImageLimits, label: string): void {
  const size = `${width}x${height}`;
  if (width * height > limits.maxPixels) {
    throw new InvalidImageError(
      `${label}: ${size} is more than the ${limits.maxPixels}-pixel limit (MAX_IMAGE_PIXELS)`,
    );
  }
  if (Math.max(width, height) > limits.maxSide) {
    throw new InvalidImageError(
      `${label}: ${size} has a side over the ${limits.maxSide}-pixel side limit (MAX_IMAGE_SIDE)`,
    );
  }
  const ratio = Math.max(width, height) / Math.max(1, Math.min(width, height));
  if (ratio > limits.maxAspectRatio) {
    throw new InvalidImageError(
      `${label}: ${size} has an aspect ratio of ${formatRatio(ratio)}:1, over the ${limits.maxAspectRatio}:1 ` +
        'limit (MAX_IMAGE_ASPECT_RATIO)',
    );
  }
}

function formatRatio(ratio: number): string {
  return ratio >= 100 ? String(Math.round(ratio)) : ratio.toFixed(1);
}
