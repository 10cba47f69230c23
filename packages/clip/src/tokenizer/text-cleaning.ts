import { unescapeHtml } from './html-unescape';

/**
 * The characters Python's `str.isspace()` accepts (a regex character-class body), which is what `re`'s `\s`,
 * `str.strip()` and `str.split()` use in the reference. JavaScript's `\s` differs: it lacks U+001C–U+001F
 * and U+0085 and adds U+FEFF.
 */
export const PYTHON_WHITESPACE_CHARS =
  '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const PYTHON_WHITESPACE_RUN = new RegExp(`[${PYTHON_WHITESPACE_CHARS}]+`, 'g');

/**
 * CLIP's `whitespace_clean(basic_clean(text)).lower()`: HTML entities decoded twice (text scraped from the
 * web is often escaped twice), whitespace runs collapsed to one space, trimmed, lower-cased.
 *
 * The reference first runs `ftfy.fix_text` (mojibake repair, NFC normalization). We do not: there is no
 * faithful JavaScript port, and the golden strings are all ones ftfy leaves unchanged, so for them (and for
 * any well-formed text that needs no repair) the result is the same.
 */
export function cleanClipText(text: string): string {
  const collapsed = unescapeHtml(unescapeHtml(text)).replace(PYTHON_WHITESPACE_RUN, ' ');
  // Python strips, collapses, strips again; after collapsing, at most one space is left at each end.
  const start = collapsed.startsWith(' ') ? 1 : 0;
  const end = collapsed.length > start && collapsed.endsWith(' ') ? collapsed.length - 1 : collapsed.length;
  // Python's str.lower() and String#toLowerCase() both apply full Unicode lower-casing (final sigma
  // included); they differ only on letters newer than the Python's Unicode tables.
  return collapsed.slice(start, end).toLowerCase();
}
