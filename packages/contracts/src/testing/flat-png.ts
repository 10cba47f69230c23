import zlib from 'node:zlib';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A flat 8-bit greyscale PNG of width × height, built without any image library (so any package's tests
 * can use it): its rows are all alike, so deflate shrinks them about a thousand times (1 × 99,999,999 is
 * 194 kB), and they are streamed through zlib a few MB at a time (under a second) instead of ever being
 * held whole.
 */
export async function flatGreyPng(width: number, height: number, grey = 0): Promise<Buffer> {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale; compression, filter and interlace stay 0
  const deflate = zlib.createDeflate({ level: 9, memLevel: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (part: Buffer) => parts.push(part));
  const ended = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  // Each row is a filter byte (0: none) and `width` samples; a block holds whole rows.
  const rowBytes = width + 1;
  const rowsPerBlock = Math.max(1, Math.floor((4 << 20) / rowBytes));
  const block = Buffer.alloc(rowsPerBlock * rowBytes, grey);
  for (let at = 0; at < block.length; at += rowBytes) block[at] = 0;
  for (let left = height; left > 0; left -= rowsPerBlock) {
    const rows = Math.min(left, rowsPerBlock);
    if (!deflate.write(block.subarray(0, rows * rowBytes))) {
      await new Promise((resolve) => deflate.once('drain', resolve));
    }
  }
  deflate.end();
  await ended;
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', Buffer.concat(parts)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
