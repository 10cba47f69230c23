import { readFile } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';

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
    inflated = await inflateLines(compressed, count + 1);
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

/**
 * The first `lines` lines of gzipped text (all of it when shorter). The file holds ~262k rules and CLIP
 * uses the first ~49k: inflating stops there, which saves most of the tokenizer's start-up time.
 */
async function inflateLines(compressed: Buffer, lines: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  let seen = 0;
  const gunzip = createGunzip();
  gunzip.end(compressed);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let from = 0;
      let end = -1;
      while (seen < lines) {
        const newline = chunk.indexOf(0x0a, from);
        if (newline < 0) break;
        seen += 1;
        from = newline + 1;
        if (seen === lines) end = from;
      }
      const kept = end < 0 ? chunk : chunk.subarray(0, end);
      chunks.push(kept);
      size += kept.length;
      if (end >= 0) break;
      if (size > MAX_INFLATED_BYTES)
        throw new Error(`more than ${MAX_INFLATED_BYTES} bytes before line ${lines}`);
    }
  } finally {
    gunzip.destroy();
  }
  return Buffer.concat(chunks, size);
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
