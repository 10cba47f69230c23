/**
 * CLIP's word splitter, the reference's pattern compiled with Python's `regex` module and IGNORECASE:
 *
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *
 * Rewritten so that JavaScript finds the same pieces for every code point (checked against `regex` over
 * all of Unicode):
 * - Case-insensitivity is spelled out on the literals instead of using the `i` flag, which in JavaScript
 *   also widens `\p{L}`. `regex` folds `s` with `ſ` (U+017F) too; the input is lower-cased already, so
 *   this is the only case variant that can still reach the pattern.
 * - `\s` is `regex`'s Unicode White_Space set: JavaScript's `\s` lacks U+0085 and has U+FEFF.
 * - U+0345 (combining ypogegrammeni) folds to a letter, so under IGNORECASE `regex` takes it neither as a
 *   letter nor as a symbol: it is dropped like whitespace. We exclude it from the symbol class to match.
 * - Digits are one piece each: `[\p{N}]` has no `+`.
 */
const S = '[sSſ]';
const PATTERN = [
  `<\\|${S}[tT][aA][rR][tT][oO][fF][tT][eE][xX][tT]\\|>`,
  '<\\|[eE][nN][dD][oO][fF][tT][eE][xX][tT]\\|>',
  `'${S}`,
  "'[tT]",
  "'[rR][eE]",
  "'[vV][eE]",
  "'[mM]",
  "'[lL][lL]",
  "'[dD]",
  '\\p{L}+',
  '\\p{N}',
  '[^\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\p{L}\\p{N}\\u0345]+',
].join('|');

/** The pieces of a cleaned text, lazily: callers that only need the first tokens stop early. */
export function* preTokenize(cleanText: string): Generator<string, void, undefined> {
  // A fresh RegExp per call: a shared global one would carry `lastIndex` across interleaved generators.
  for (const match of cleanText.matchAll(new RegExp(PATTERN, 'gu'))) yield match[0];
}
