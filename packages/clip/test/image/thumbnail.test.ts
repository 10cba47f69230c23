import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { InvalidImageError, UnsupportedImageError } from '@clip-search/contracts';
import { renderThumbnail } from '../../src/image/thumbnail';

const PHOTOS = path.resolve(__dirname, '../../../../demo/photos');

describe('renderThumbnail', () => {
  it('renders a JPEG whose longer side is the size, keeping the aspect ratio', async () => {
    const bytes = await readFile(path.join(PHOTOS, 'chelsea.png')); // 451×300
    const thumbnail = await renderThumbnail(bytes, { size: 128, maxPixels: 10_000_000 });
    expect(thumbnail.contentType).toBe('image/jpeg');
    const meta = await sharp(thumbnail.data).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({
      format: 'jpeg',
      width: 128,
      height: 85,
    });
    expect({ width: thumbnail.width, height: thumbnail.height }).toEqual({ width: 128, height: 85 });
  });

  it('does not enlarge small images and flattens transparency', async () => {
    const png = await sharp({
      create: { width: 10, height: 6, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const thumbnail = await renderThumbnail(png, { size: 256, maxPixels: 1000 });
    const { data, info } = await sharp(thumbnail.data).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([10, 6]);
    expect(Math.min(...data)).toBeGreaterThan(240); // white, not black
  });

  it('refuses SVG (415), garbage and truncated files (422), and images over the pixel limit', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    await expect(renderThumbnail(svg, { size: 64, maxPixels: 1e6 })).rejects.toBeInstanceOf(
      UnsupportedImageError,
    );
    await expect(renderThumbnail(Buffer.from('hello'), { size: 64, maxPixels: 1e6 })).rejects.toBeInstanceOf(
      InvalidImageError,
    );
    const png = await readFile(path.join(PHOTOS, 'moon.png'));
    await expect(renderThumbnail(png.subarray(0, 400), { size: 64, maxPixels: 1e6 })).rejects.toBeInstanceOf(
      InvalidImageError,
    );
    await expect(renderThumbnail(png, { size: 64, maxPixels: 100 })).rejects.toBeInstanceOf(
      InvalidImageError,
    );
  });
});
