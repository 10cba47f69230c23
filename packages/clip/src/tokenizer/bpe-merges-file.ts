import { readFile } from 'node:fs/promises';
import { constants, gunzipSync } from 'node:zlib';

import { ModelLoadError } from '@clip-search/contracts';
import type { BpeMergeKey } from './bpe';
import { PYTHON_WHITESPACE_CHARS } from './text-cleaning';

// CLIP's rules inflate to about 0.5 MB (the whole file to 3 MB); the cap turns a wrong or hostile file into
// an error, not an OOM.
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

const PYTHON_WHITESPACE = new RegExp(`[${PYTHON_WHITESPACE_CHARS}]+`);
const SIMPLE_MERGE_LINE = new RegExp(`^[^${PYTHON_WHITESPACE_CHARS}]+ [^${PYTHON_WHITESPACE_CHARS}]+$`);

/**
 * Reads the first `count` merge rules of a gzipped BPE merges file (OpenAI's `bpe_simple_vocab_16e6.txt.gz`
 * layout: a header line, then one `left right` pair per line, best first), as pair keys. Throws
 * ModelLoadError when the file is missing, is not gzip or UTF-8, or has fewer or malformed rules: a
 * tokenizer built from a damaged vocabulary would give wrong ids silently.
 */
export async function readBpeMerges(gzPath: string, count: number): Promise<BpeMergeKey[]> {
  let compressed: Buffer;
  try {
    compressed = await readFile(gzPath);
  } catch (cause) {
    throw new ModelLoadError(`Cannot read the CLIP BPE merges file ${gzPath}: ${messageOf(cause)}`, {
      cause,
    });
  }
  let inflated: Buffer;
  try {
    inflated = inflateLines(compressed, count + 1);
  } catch (cause) {
    throw new ModelLoadError(
      `The CLIP BPE merges file ${gzPath} is not valid gzip data (or inflates past ${MAX_INFLATED_BYTES >> 20} MiB): ${messageOf(cause)}`,
      { cause },
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(inflated);
  } catch (cause) {
    throw new ModelLoadError(`The CLIP BPE merges file ${gzPath} is not UTF-8 text: ${messageOf(cause)}`, {
      cause,
    });
  }
  return parseMerges(text, count, gzPath);
}

// CLIP reads the first ~49k of the file's ~262k rules, the first fifth of its bytes: inflating that part
// alone takes a fraction of the time. A prefix of a gzip stream inflates to a prefix of the text.
const PREFIX_FRACTION = 0.3;

/**
 * The first `lines` lines of gzipped text (all of it when shorter): inflated from a prefix of the bytes
 * when that holds them, else from the whole file (which also reports a damaged stream).
 */
function inflateLines(compressed: Buffer, lines: number): Buffer {
  const prefix = compressed.subarray(0, Math.ceil(compressed.length * PREFIX_FRACTION));
  if (prefix.length < compressed.length) {
    // Z_SYNC_FLUSH: give back what the prefix holds instead of failing on its missing end.
    const partial = gunzipSync(prefix, { finishFlush: constants.Z_SYNC_FLUSH });
    const end = endOfLine(partial, lines);
    if (end !== undefined) return partial.subarray(0, end);
  }
  const whole = gunzipSync(compressed, { maxOutputLength: MAX_INFLATED_BYTES });
  return whole.subarray(0, endOfLine(whole, lines) ?? whole.length);
}

/** Where line `lines` ends (past its newline), or undefined when the buffer holds fewer lines. */
function endOfLine(buffer: Buffer, lines: number): number | undefined {
  let from = 0;
  for (let seen = 0; seen < lines; seen++) {
    const newline = buffer.indexOf(0x0a, from);
    if (newline < 0) return undefined;
    from = newline + 1;
  }
  return from;
}

function parseMerges(text: string, count: number, source: string): BpeMergeKey[] {
  const lines = text.split('\n');
  lines.shift(); // the header
  if (lines.at(-1) === '') lines.pop(); // what follows the last newline
  const merges = lines.slice(0, count).map((line, i) => parseMergeLine(line, i + 2, source));
  if (merges.length < count) {
    throw new ModelLoadError(
      `The CLIP BPE merges file ${source} has ${merges.length} merge rules; CLIP needs ${count}`,
    );
  }
  return merges;
}

function parseMergeLine(line: string, lineNumber: number, source: string): BpeMergeKey {
  // Nearly every line is `left right`, already its pair key; the general split is only needed for odd
  // spacing (CRLF, tabs).
  if (SIMPLE_MERGE_LINE.test(line)) return line;
  const parts = line.split(PYTHON_WHITESPACE).filter((p) => p !== ''); // Python's str.split()
  const [left, right] = parts;
  if (parts.length !== 2 || left === undefined || right === undefined) {
    throw new ModelLoadError(
      `The CLIP BPE merges file ${source} is malformed at line ${lineNumber}: expected two symbols, got ${parts.length}`,
    );
  }
  return `${left} ${right}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
