/**
 * Whether a JSON text holds more than `limit` values, counted on its raw bytes before it is parsed.
 * `JSON.parse` is fast on strings but not on many small values: 30 MB of `0,` is fifteen million numbers
 * and a second of blocked event loop, all to be refused by the shape check afterwards. Commas and opening
 * brackets outside strings bound the number of values from above; strings are skipped with native
 * searches, so a body that is one long base64 string costs almost nothing here.
 */
export function exceedsJsonValues(text: Buffer, limit: number): boolean {
  const QUOTE = 0x22;
  const BACKSLASH = 0x5c;
  let values = 1;
  for (let at = 0; at < text.length; at++) {
    const byte = text[at];
    if (byte === QUOTE) {
      // Find the closing quote: the next one not escaped by an odd run of backslashes.
      let close = text.indexOf(QUOTE, at + 1);
      while (close !== -1 && isEscaped(text, close, BACKSLASH)) close = text.indexOf(QUOTE, close + 1);
      if (close === -1) return false; // unterminated: JSON.parse reports it
      at = close;
    } else if ((byte === 0x2c || byte === 0x5b || byte === 0x7b) && ++values > limit) return true;
  }
  return false;
}

function isEscaped(text: Buffer, at: number, backslash: number): boolean {
  let run = 0;
  for (let i = at - 1; i >= 0 && text[i] === backslash; i--) run++;
  return run % 2 === 1;
}
