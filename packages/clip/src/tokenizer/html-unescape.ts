import type * as Entities from 'entities';

/**
 * Python's `html.unescape`, character for character, because CLIP's reference tokenizer runs it (twice) on
 * every text and the token ids must match. The `entities` package agrees with Python on named references
 * (HTML5 names, longest legacy prefix without `;`) but not on numeric ones: Python deletes references to
 * control characters and noncharacters, where `entities` keeps them. So we match references with Python's
 * own pattern, decode numbers with Python's tables, and ask `entities` only for names.
 */

// Python: r'&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)'. The `u` flag makes {1,32} count
// code points, as Python's str does.
const CHAR_REF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

// Python's html._invalid_charrefs: the HTML5 spec's replacements for numeric references (mostly the
// Windows-1252 reading of 0x80–0x9f).
const INVALID_CHARREFS: ReadonlyMap<number, string> = new Map([
  [0x00, '\ufffd'],
  [0x0d, '\r'],
  [0x80, '\u20ac'],
  [0x81, '\x81'],
  [0x82, '\u201a'],
  [0x83, '\u0192'],
  [0x84, '\u201e'],
  [0x85, '\u2026'],
  [0x86, '\u2020'],
  [0x87, '\u2021'],
  [0x88, '\u02c6'],
  [0x89, '\u2030'],
  [0x8a, '\u0160'],
  [0x8b, '\u2039'],
  [0x8c, '\u0152'],
  [0x8d, '\x8d'],
  [0x8e, '\u017d'],
  [0x8f, '\x8f'],
  [0x90, '\x90'],
  [0x91, '\u2018'],
  [0x92, '\u2019'],
  [0x93, '\u201c'],
  [0x94, '\u201d'],
  [0x95, '\u2022'],
  [0x96, '\u2013'],
  [0x97, '\u2014'],
  [0x98, '\u02dc'],
  [0x99, '\u2122'],
  [0x9a, '\u0161'],
  [0x9b, '\u203a'],
  [0x9c, '\u0153'],
  [0x9d, '\x9d'],
  [0x9e, '\u017e'],
  [0x9f, '\u0178'],
]);

/** Python's html._invalid_codepoints: a numeric reference to one of these decodes to nothing. */
function isInvalidCodePoint(cp: number): boolean {
  return (
    (cp >= 0x01 && cp <= 0x08) ||
    cp === 0x0b ||
    (cp >= 0x0e && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe // U+xFFFE and U+xFFFF in every plane (cp ≤ 0x10ffff here)
  );
}

function decodeNumericReference(ref: string): string {
  const hex = ref[1] === 'x' || ref[1] === 'X';
  const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
  // Python's int() is unbounded; a float that overflows (even to Infinity) still lands on the same branch.
  const cp = parseInt(digits, hex ? 16 : 10);
  const replacement = INVALID_CHARREFS.get(cp);
  if (replacement !== undefined) return replacement;
  if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return '\ufffd';
  if (isInvalidCodePoint(cp)) return '';
  return String.fromCodePoint(cp);
}

// The named-reference table is large (a third of the tokenizer's load time) and almost no query has one:
// loaded on the first named reference.
let entities: typeof Entities | undefined;

function decodeNamedReference(ref: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when first needed, see above
  entities ??= require('entities') as typeof Entities;
  return entities.decodeHTML(`&${ref}`);
}

/** `html.unescape(text)` from Python 3. */
export function unescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHAR_REF, (_match: string, ref: string) =>
    ref.startsWith('#') ? decodeNumericReference(ref) : decodeNamedReference(ref),
  );
}
