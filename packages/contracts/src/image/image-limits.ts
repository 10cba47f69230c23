/**
 * How large and how long an untrusted image may be: the limits and their defaults. They are value types
 * of the contracts (not only of the configuration) so that code building a preprocessor without the
 * environment (tests, benches, the CLI) gets the same protection, and so that the configuration can
 * publish the defaults without loading an image library.
 */

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

/** Time limit of one image's decode and resize (`IMAGE_DECODE_TIMEOUT_MS`). */
export const DEFAULT_IMAGE_DECODE_TIMEOUT_MS = 10_000;
