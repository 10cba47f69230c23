/**
 * How large and how long an untrusted image may be, checked from its header before any decoder runs.
 *
 * The pixel count alone does not bound the cost of a decode: libvips decodes a PNG row by row, at a
 * fixed cost per row, so a 1 × 99,999,999 greyscale PNG (194 kB, under a 10⁸-pixel limit) kept a core
 * busy for minutes and took 300 MB. Bounding each side bounds the rows (and columns); bounding the aspect
 * ratio refuses strips whose CLIP centre crop would keep almost nothing of the image anyway.
 *
 * The limits and their defaults are contracts' (@clip-search/contracts: image-limits.ts).
 */
import { type ImageLimits, InvalidImageError } from '@clip-search/contracts';

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
