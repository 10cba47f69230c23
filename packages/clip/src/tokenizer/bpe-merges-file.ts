import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

import { ModelLoadError } from '@clip-search/contracts';
import type { BpeMerge } from './bpe';
import { PYTHON_WHITESPACE_CHARS } from './text-cleaning';

const gunzipAsync = promisify(gunzip);

// The real file inflates to about 3 MB; the cap turns a wrong or hostile file into an error, not an OOM.
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

const PYTHON_WHITESPACE = new RegExp(`[${PYTHON_WHITESPACE_CHARS}]+`);
const SIMPLE_MERGE_LINE = new RegExp(`^[^${PYTHON_WHITESPACE_CHARS}]+ [^${PYTHON_WHITESPACE_CHARS}]+$`);

/**
 * Reads the first `count` merge rules of a gzipped BPE merges file (OpenAI's `bpe_simple_vocab_16e6.txt.gz`
 * layout: a header line, then one `left right` pair per line, best first). Throws ModelLoadError when the
 * file is missing, is not gzip or UTF-8, or has fewer or malformed rules: a tokenizer built from a damaged
 * vocabulary would give wrong ids silently.
 */
export async function readBpeMerges(gzPath: string, count: number): Promise<BpeMerge[]> {
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
    inflated = await gunzipAsync(compressed, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (cause) {
    throw new ModelLoadError(
      `The CLIP BPE merges file ${gzPath} is not valid gzip data (or inflates past ${MAX_INFLATED_BYTES >> 20} MiB): ${messageOf(cause)}`,
      { cause },
    );
  }
  // The file holds ~262k rules and CLIP uses the first ~49k: decode (and validate) only those lines.
  let end = 0;
  for (let line = 0; line <= count && end < inflated.length; line++) {
    const newline = inflated.indexOf(0x0a, end);
    end = newline < 0 ? inflated.length : newline + 1;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(inflated.subarray(0, end));
  } catch (cause) {
    throw new ModelLoadError(`The CLIP BPE merges file ${gzPath} is not UTF-8 text: ${messageOf(cause)}`, {
      cause,
    });
  }
  return parseMerges(text, count, gzPath);
}

function parseMerges(text: string, count: number, source: string): BpeMerge[] {
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

function parseMergeLine(line: string, lineNumber: number, source: string): BpeMerge {
  // Nearly every line is `left right`; the general split is only needed for odd spacing (CRLF, tabs).
  const parts = SIMPLE_MERGE_LINE.test(line)
    ? line.split(' ')
    : line.split(PYTHON_WHITESPACE).filter((p) => p !== ''); // Python's str.split()
  const [left, right] = parts;
  if (parts.length !== 2 || left === undefined || right === undefined) {
    throw new ModelLoadError(
      `The CLIP BPE merges file ${source} is malformed at line ${lineNumber}: expected two symbols, got ${parts.length}`,
    );
  }
  return [left, right];
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
