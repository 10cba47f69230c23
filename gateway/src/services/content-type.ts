/**
 * The Content-Type of an original image, from its first bytes rather than its file name (a `.jpg` that
 * holds a PNG is served as what it is). Only the formats ingestion indexes are recognised.
 */
export function contentTypeOf(head: Uint8Array): string | undefined {
  const ascii = (start: number, length: number) =>
    start + length > head.length ? '' : String.fromCharCode(...head.subarray(start, start + length));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (ascii(1, 3) === 'PNG' && head[0] === 0x89) return 'image/png';
  if (ascii(0, 4) === 'GIF8') return 'image/gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') return 'image/webp';
  if (
    ascii(0, 4) === 'II*\0' ||
    ascii(0, 4) === 'MM\0*' ||
    ascii(0, 4) === 'II+\0' ||
    ascii(0, 4) === 'MM\0+'
  )
    return 'image/tiff';
  if (ascii(4, 4) === 'ftyp') {
    const brands = [ascii(8, 4)];
    for (let at = 16; at + 4 <= Math.min(head.length, 64); at += 4) brands.push(ascii(at, 4));
    if (brands.includes('avif') || brands.includes('avis')) return 'image/avif';
    return brands.some((b) => b.startsWith('hei') || b === 'mif1') ? 'image/heic' : undefined;
  }
  return undefined;
}
