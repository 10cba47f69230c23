/**
 * CLIP's (and GPT-2's) `bytes_to_unicode`: BPE runs on UTF-8 bytes, each shown as one printable character
 * so that merges can be written as text. Printable Latin-1 bytes stand for themselves; the other 68 bytes
 * (controls, space, U+00A0, U+00AD…) are moved to U+0100 onwards, in byte order.
 */
function buildByteToChar(): readonly string[] {
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCharCode(printable(b) ? b : 256 + shifted++));
  return chars;
}

/** Index: a byte; value: its one-character stand-in. */
export const BYTE_TO_CHAR = buildByteToChar();

/**
 * The 256 stand-ins in the reference's vocabulary order: the printable bytes first, then the moved ones
 * (Python builds the dict that way, and its insertion order is the id order).
 */
export const BYTE_ALPHABET: readonly string[] = [...BYTE_TO_CHAR].sort(
  (a, b) => a.charCodeAt(0) - b.charCodeAt(0),
);

const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** A text's UTF-8 bytes as stand-in characters. Lone surrogates become U+FFFD (Python would raise). */
export function toByteChars(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) out += BYTE_TO_CHAR[byte] ?? '';
  return out;
}

/** The inverse of `toByteChars`; characters outside the alphabet are dropped. */
export function fromByteChars(chars: string): Buffer {
  const bytes: number[] = [];
  for (const c of chars) {
    const byte = CHAR_TO_BYTE.get(c);
    if (byte !== undefined) bytes.push(byte);
  }
  return Buffer.from(bytes);
}
