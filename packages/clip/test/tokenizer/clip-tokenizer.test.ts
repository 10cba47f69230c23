import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

import { ClipTokenizer } from '../../src/tokenizer/clip-tokenizer';
import { unescapeHtml } from '../../src/tokenizer/html-unescape';
import { cleanClipText } from '../../src/tokenizer/text-cleaning';
import { InvalidInputError, ModelLoadError } from '@clip-search/contracts';

const REPO_ROOT = path.resolve(__dirname, '../../../..');
const SHARED_DIR = path.resolve(REPO_ROOT, '../shared');

interface TokenizerCase {
  readonly text: string;
  readonly ids: number[];
  readonly truncated: boolean;
}
const readGolden = (file: string): TokenizerCase[] =>
  (JSON.parse(readFileSync(file, 'utf8')) as { cases: TokenizerCase[] }).cases;

const goldenCases = readGolden(path.join(REPO_ROOT, 'fixtures/golden/tokenizer-golden.json'));
const SOT = 49406;
const EOT = 49407;

let tokenizer: ClipTokenizer;
beforeAll(async () => {
  tokenizer = await ClipTokenizer.fromBpeFile(ClipTokenizer.bundledBpePath);
});

/** The ids a caller expects when the text's BPE ids are `body`. */
const framed = (body: number[], contextLength = 77): number[] => [
  SOT,
  ...body,
  EOT,
  ...new Array<number>(contextLength - body.length - 2).fill(0),
];

describe('parity with OpenAI clip.tokenize(truncate=True)', () => {
  test('the golden file has the 41 cases', () => {
    expect(goldenCases).toHaveLength(41);
  });

  const label = (text: string): string => JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
  test.each(goldenCases.map((c) => [label(c.text), c] as const))('%s', (_label, c) => {
    const result = tokenizer.tokenize(c.text);
    expect(result.ids).toEqual(c.ids);
    expect(result.truncated).toBe(c.truncated);
    // length is where the padding starts, and EOT is the last real id.
    expect(result.ids).toHaveLength(77);
    expect(result.ids[result.length - 1]).toBe(EOT);
    expect(result.ids.slice(result.length).every((id) => id === 0)).toBe(true);
    expect(result.ids.slice(1, result.length - 1)).not.toContain(0);
  });

  const sharedGolden = path.join(SHARED_DIR, 'fixtures/tokenizer-golden.json');
  const sharedBpe = path.join(SHARED_DIR, 'models/clip-tokenizer/bpe_simple_vocab_16e6.txt.gz');
  (existsSync(sharedGolden) && existsSync(sharedBpe) ? test : test.skip)(
    'the reference material in shared/ gives the same ids (skipped without ../shared)',
    async () => {
      const fromShared = await ClipTokenizer.fromBpeFile(sharedBpe);
      for (const c of readGolden(sharedGolden)) expect(fromShared.tokenize(c.text).ids).toEqual(c.ids);
    },
  );
});

describe('framing, padding and truncation', () => {
  test('the bundled merges give CLIP vocabulary ids', () => {
    expect(tokenizer.startOfTextId).toBe(SOT);
    expect(tokenizer.endOfTextId).toBe(EOT);
    expect(tokenizer.contextLength).toBe(77);
  });

  test('an empty or blank text is SOT, EOT and padding', () => {
    for (const text of ['', ' \t\n ', '&nbsp;']) {
      expect(tokenizer.tokenize(text)).toEqual({ ids: framed([]), length: 2, truncated: false });
    }
  });

  test('75 tokens fit exactly; the 76th truncates and EOT stays last', () => {
    const a = 320; // "a</w>"
    expect(tokenizer.tokenize('a '.repeat(75))).toEqual({
      ids: [SOT, ...new Array<number>(75).fill(a), EOT],
      length: 77,
      truncated: false,
    });
    expect(tokenizer.tokenize('a '.repeat(76))).toEqual({
      ids: [SOT, ...new Array<number>(75).fill(a), EOT],
      length: 77,
      truncated: true,
    });
  });

  test('a shorter context pads and truncates at its own length', async () => {
    const short = await ClipTokenizer.fromBpeFile(ClipTokenizer.bundledBpePath, 8);
    expect(short.tokenize('a photo of a dog')).toEqual({
      ids: [SOT, 320, 1125, 539, 320, 1929, EOT, 0],
      length: 7,
      truncated: false,
    });
    expect(short.tokenize('a photo of a big dog')).toEqual({
      ids: [SOT, 320, 1125, 539, 320, 1205, 1929, EOT],
      length: 8,
      truncated: false,
    });
    expect(short.tokenize('a photo of a very big dog')).toEqual({
      ids: [SOT, 320, 1125, 539, 320, 1070, 1205, EOT],
      length: 8,
      truncated: true,
    });
  });

  test('a context too small for SOT and EOT is refused', async () => {
    await expect(ClipTokenizer.fromBpeFile(ClipTokenizer.bundledBpePath, 1)).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(ClipTokenizer.fromBpeFile(ClipTokenizer.bundledBpePath, 7.5)).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });
});

describe('encode and decode', () => {
  test('encode gives the raw BPE ids, with no framing or truncation', () => {
    expect(tokenizer.encode('a photo of a dog')).toEqual([320, 1125, 539, 320, 1929]);
    expect(tokenizer.encode('')).toEqual([]);
    expect(tokenizer.encode('word '.repeat(100))).toEqual(new Array<number>(100).fill(2653));
  });

  test('decode inverts encode up to cleaning (words end with a space)', () => {
    expect(tokenizer.decode(tokenizer.encode('A Photo of a  DOG!'))).toBe('a photo of a dog ! ');
    expect(tokenizer.decode(tokenizer.encode('東京タワー 🐶 café'))).toBe('東京タワー 🐶 café ');
    expect(tokenizer.decode([SOT, 1929, EOT])).toBe('<|startoftext|>dog <|endoftext|>');
  });

  test('the special-token strings typed in a text are the special ids, in any case', () => {
    expect(tokenizer.encode('<|ENDOFTEXT|>')).toEqual([EOT]);
    expect(tokenizer.encode('x<|endoftext|>y')).toEqual([343, EOT, 344]);
    // Entities are decoded before splitting, as in the reference.
    expect(tokenizer.encode('&#60;|endoftext|&#62;')).toEqual([EOT]);
  });
});

// Expected values below come from Python 3 (html.unescape, str.lower) and the reference simple_tokenizer
// run with the `regex` module; each pins a place where a naive JavaScript port differs.
describe('the reference semantics JavaScript does not give for free', () => {
  test.each([
    ['&amp;amp;', '&'], // unescaped twice
    ['&lt;3 &#1;&#x80;&notit; &copy2024', '<3 €¬it; ©2024'], // control refs vanish, cp1252, legacy prefixes
    ['&#128054; &#xD800;&#0;&#99999999999;', '🐶 \ufffd\ufffd\ufffd'],
    ['&hellip &hellip; &AMP &ampx &#x26;lt;', '&hellip … & &x <'],
    ['&#65&#x42 &#x;', 'AB &#x;'],
    [`&${'a'.repeat(40)};`, `&${'a'.repeat(40)};`],
  ])('unescape twice %j → %j', (text, expected) => {
    expect(unescapeHtml(unescapeHtml(text))).toBe(expected);
  });

  test("whitespace is Python's: U+001C and U+0085 are spaces, U+FEFF is not", () => {
    expect(cleanClipText(' tab\x1csep\x85x\ufeffy\u3000 ')).toBe('tab sep x\ufeffy');
    expect(tokenizer.encode('tab\x1csep\x85x\ufeffy')).toEqual([14724, 10434, 343, 171, 119, 379, 344]);
  });

  test("IGNORECASE: U+0345 is dropped and 'ſ is a contraction", () => {
    expect(tokenizer.encode('\u0345x\u0345')).toEqual([343]);
    expect(tokenizer.encode("it'\u017f")).toEqual([585, 6, 129, 379]);
  });

  test('lower-casing applies the final sigma', () => {
    expect(cleanClipText('ΟΔΥΣΣΕΥΣ')).toBe('οδυσσευς');
    expect(tokenizer.encode('ΟΔΥΣΣΕΥΣ')).toEqual([
      138, 123, 138, 112, 139, 227, 139, 225, 139, 225, 138, 113, 139, 227, 139, 480,
    ]);
  });

  test('long words merge like the reference', () => {
    expect(tokenizer.encode('qwertyuiopasdfghjklzxcvbnm'.repeat(2))).toEqual([
      80, 6316, 1260, 17326, 676, 42758, 8498, 89, 87, 13531, 10496, 19103, 6316, 1260, 17326, 676, 42758,
      8498, 89, 87, 13531, 10496, 332,
    ]);
    expect(tokenizer.encode('ab'.repeat(40))).toEqual([...new Array<number>(39).fill(596), 3937]);
  });
});

describe('bad input', () => {
  test('a lone surrogate is read as U+FFFD instead of failing', () => {
    expect(tokenizer.encode('\ud83d')).toEqual(tokenizer.encode('\ufffd'));
    expect(tokenizer.encode('\ufffd')).toEqual([39802]);
  });

  test('a non-string is an InvalidInputError', () => {
    expect(() => tokenizer.tokenize(42 as unknown as string)).toThrow(InvalidInputError);
  });

  test('a huge single word is merged in n log n, not quadratic time (a hang would time out)', () => {
    const result = tokenizer.tokenize('x'.repeat(200_000));
    expect(result.truncated).toBe(true);
    expect(result.ids[1]).toBe(32035); // the golden xxx… case starts the same way
  });
});

describe('loading the merges file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'clip-bpe-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, bytes: Uint8Array): string => {
    const file = path.join(dir, name);
    writeFileSync(file, bytes);
    return file;
  };
  const realText = (): Buffer => gunzipSync(readFileSync(ClipTokenizer.bundledBpePath));

  async function loadError(file: string): Promise<ModelLoadError> {
    const error: unknown = await ClipTokenizer.fromBpeFile(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as ModelLoadError).type).toBe('model-load-failed');
    expect((error as ModelLoadError).message).toContain(file);
    return error as ModelLoadError;
  }

  test('the bundled file is where bundledBpePath says', () => {
    expect(existsSync(ClipTokenizer.bundledBpePath)).toBe(true);
    expect(path.basename(ClipTokenizer.bundledBpePath)).toBe('bpe_simple_vocab_16e6.txt.gz');
  });

  test('a missing file', async () => {
    expect((await loadError(path.join(dir, 'nope.txt.gz'))).message).toMatch(/ENOENT/);
  });

  test('a file that is not gzip, or is cut short', async () => {
    expect((await loadError(write('plain.gz', realText().subarray(0, 5000)))).message).toMatch(
      /not valid gzip/,
    );
    // Cut inside the ~49k rules CLIP reads (the first fifth of the file): what lies past them is never
    // inflated, so a cut there does no harm and goes unnoticed.
    const gz = readFileSync(ClipTokenizer.bundledBpePath);
    await loadError(write('cut.gz', gz.subarray(0, Math.floor(gz.length / 10))));
  });

  test('too few merge rules', async () => {
    const text = realText().toString('utf8').split('\n').slice(0, 1001).join('\n');
    expect((await loadError(write('short.gz', gzipSync(text)))).message).toMatch(/has 1000 merge rules/);
  });

  test('a malformed rule names its line', async () => {
    const lines = realText().toString('utf8').split('\n');
    lines[10] = 'a b c';
    expect((await loadError(write('bad-line.gz', gzipSync(lines.join('\n'))))).message).toMatch(/line 11/);
  });

  test('bytes that are not UTF-8', async () => {
    const bytes = realText();
    bytes[20] = 0xff;
    expect((await loadError(write('latin.gz', gzipSync(bytes)))).message).toMatch(/not UTF-8/);
  });

  test("CRLF line ends are read as Python's str.split() reads them", async () => {
    const crlf = realText().toString('utf8').replaceAll('\n', '\r\n');
    const fromCrlf = await ClipTokenizer.fromBpeFile(write('crlf.gz', gzipSync(crlf)));
    for (const c of goldenCases.slice(0, 10)) expect(fromCrlf.tokenize(c.text).ids).toEqual(c.ids);
  });
});
