/**
 * The filter compiler and the row encoding, without a server: every user value is escaped (quoted
 * literals decode back to the value, and random hostile values never change an expression's shape), the
 * filterable copy keeps JSON types apart and turns prefixes into exact ranges, and upserts are checked,
 * deduplicated and batched before anything is sent. Their behaviour against Milvus itself (matchesFilter
 * on the same items) is in milvus-vector-store.test.ts.
 */
import {
  InvalidInputError,
  type FilterScalar,
  type MetadataFilter,
  ModelMismatchError,
} from '@clip-search/contracts';
import { makeItem, MODEL_ID, seededRandom, unitVectors } from '@clip-search/contracts/testing';
import { collectionNameFor } from '../src/collection-layout';
import { compileFilter, encodeText, filterableFields, quoteString } from '../src/filter-expression';
import { batchesOf, encodeItems } from '../src/item-rows';

/** Strings meant to break out of a literal or an expression, in every way a parser might fall for. */
const HOSTILE: readonly string[] = [
  '',
  '"',
  '\\',
  '\\"',
  '"\\',
  "'",
  '" or "1"=="1',
  "' or '1'='1",
  ') or (true',
  'x" || true || "',
  'a && b',
  'not x',
  '\u0000',
  '\n\r\t',
  '%_*?[]{}$',
  '__proto__',
  'constructor',
  'caf\u00e9',
  'cafe\u0301',
  '\u{1F600}',
  '\u{10FFFF}',
  '\u{FF5E}',
  '~',
  '!0022',
  '}~',
  'filterable["u"] == "s"',
  'L'.repeat(300),
];

/** A random string of hostile pieces and random code points (no lone surrogates). */
function hostileString(random: () => number): string {
  let text = '';
  const parts = Math.floor(random() * 4);
  for (let i = 0; i < parts; i++) {
    if (random() < 0.6) text += HOSTILE[Math.floor(random() * HOSTILE.length)] as string;
    else {
      const ranges = [
        [0x00, 0x7f],
        [0x80, 0x7ff],
        [0x800, 0xd7ff],
        [0xe000, 0xffff],
        [0x10000, 0x10ffff],
      ] as const;
      const [low, high] = ranges[Math.floor(random() * ranges.length)] as readonly [number, number];
      text += String.fromCodePoint(low + Math.floor(random() * (high - low + 1)));
    }
  }
  return text;
}

function hostileScalar(random: () => number): FilterScalar {
  const pick = random();
  if (pick < 0.6) return hostileString(random);
  if (pick < 0.85)
    return [0, -0, 1, -1.5, 0.1 + 0.2, 2 ** 62, 5e-324, 1e300][Math.floor(random() * 8)] as number;
  return random() < 0.5;
}

/** Decodes a Milvus string literal as its parser does (Go's strconv.Unquote for the escapes used). */
function unquote(literal: string): string {
  expect(literal.startsWith('"') && literal.endsWith('"')).toBe(true);
  return literal
    .slice(1, -1)
    .replace(/\\u([0-9a-f]{4})|\\U([0-9a-f]{8})/g, (_, short?: string, long?: string) =>
      String.fromCodePoint(parseInt(short ?? long ?? '', 16)),
    );
}

describe('quoteString', () => {
  test('gives printable ASCII, with no quote or backslash but its own, that decodes to the value', () => {
    const random = seededRandom(1);
    const values = [...HOSTILE, ...Array.from({ length: 2_000 }, () => hostileString(random))];
    for (const value of values) {
      const literal = quoteString(value);
      const inner = literal.slice(1, -1);
      expect({ value, printable: /^[\x20-\x7e]*$/.test(literal) }).toEqual({ value, printable: true });
      // Every backslash starts an escape of ours; no bare quote is left inside.
      const bare = inner.replace(/\\u[0-9a-f]{4}|\\U[0-9a-f]{8}/g, '');
      expect({ value, quoteOrBackslash: /["\\]/.test(bare) }).toEqual({ value, quoteOrBackslash: false });
      expect(unquote(literal)).toBe(value);
    }
  });

  test('refuses a lone surrogate, which Milvus (UTF-8) cannot hold', () => {
    expect(() => quoteString('a\uD800')).toThrow(InvalidInputError);
    expect(() => quoteString('\uDC00b')).toThrow(InvalidInputError);
  });
});

describe('compileFilter', () => {
  // The only shapes an expression can take: `P` is any literal, whatever it holds.
  const PATH = 'filterable\\[P\\]';
  const CLAUSE = `(?:${PATH} == P|${PATH} in \\[P(?:, P)*\\]|\\(${PATH} >= P and ${PATH} < P\\))`;
  const SHAPE = new RegExp(`^${CLAUSE}(?: and ${CLAUSE})*$`);
  const skeleton = (expression: string): string => expression.replace(/"(?:[^"\\]|\\.)*"/g, 'P');

  test('random hostile keys and values never change the shape of the expression', () => {
    const random = seededRandom(2);
    for (let round = 0; round < 3_000; round++) {
      const filter: Record<string, unknown> = {};
      const conditions = 1 + Math.floor(random() * 4);
      for (let c = 0; c < conditions; c++) {
        const key = random() < 0.1 ? 'uri' : hostileString(random) || 'k';
        const kind = random();
        // Defined, not assigned: a key `__proto__` is a field like any other.
        const condition =
          kind < 0.3
            ? hostileScalar(random)
            : kind < 0.5
              ? { eq: hostileScalar(random) }
              : kind < 0.75
                ? { prefix: hostileString(random) }
                : { in: Array.from({ length: 1 + Math.floor(random() * 4) }, () => hostileScalar(random)) };
        Object.defineProperty(filter, key, {
          value: condition,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      const compiled = compileFilter(filter as MetadataFilter);
      expect(compiled.kind).toBe('some');
      if (compiled.kind !== 'some') continue;
      expect({ filter, shape: SHAPE.test(skeleton(compiled.expression)) }).toEqual({ filter, shape: true });
      // As many clauses as conditions: nothing a value held became an `and` of ours.
      expect(skeleton(compiled.expression).match(/filterable\[P\]/g)?.length).toBe(
        Object.values(filter).reduce<number>(
          (sum, condition) =>
            sum + (typeof condition === 'object' && condition !== null && 'prefix' in condition ? 2 : 1),
          0,
        ),
      );
    }
  });

  test('no condition matches everything; an empty `in` matches nothing', () => {
    expect(compileFilter(undefined)).toEqual({ kind: 'all' });
    expect(compileFilter({})).toEqual({ kind: 'all' });
    expect(compileFilter({ a: 1, b: { in: [] } })).toEqual({ kind: 'none' });
  });

  test('a malformed filter is refused with the shared rules’ InvalidInputError', () => {
    for (const bad of [null, [], { a: null }, { a: { gt: 1 } }, { '': 1 }, { a: { in: [{}] } }])
      expect(() => compileFilter(bad as never)).toThrow(InvalidInputError);
  });
});

describe('the filterable copy', () => {
  test('keeps JSON types apart and equal numbers together', () => {
    const fields = (value: unknown) => filterableFields('file:///x', { f: value } as never);
    const encoded = (value: unknown) => Object.entries(fields(value)).find(([key]) => key !== 'u')?.[1];
    expect(new Set(['1', 1, true].map(encoded)).size).toBe(3);
    expect(encoded(0)).toBe(encoded(-0));
    expect(encoded(4)).toBe(encoded(4.0));
    expect(encoded(0.1 + 0.2)).not.toBe(encoded(0.3));
    for (const nothing of [null, [1], { a: 1 }, Number.NaN, Number.POSITIVE_INFINITY])
      expect(encoded(nothing)).toBeUndefined();
  });

  test('a prefix is exactly a range of encoded strings', () => {
    const random = seededRandom(3);
    for (let round = 0; round < 3_000; round++) {
      const value = hostileString(random);
      const prefix =
        random() < 0.5 ? value.slice(0, Math.floor(random() * (value.length + 1))) : hostileString(random);
      const low = encodeText(prefix);
      const encoded = encodeText(value);
      const inRange = encoded >= low && encoded < `${low}~`;
      expect({ value, prefix, inRange }).toEqual({ value, prefix, inRange: value.startsWith(prefix) });
    }
  });

  test('keys are hex: no key a caller writes reaches Milvus as written', () => {
    const fields = filterableFields('u', JSON.parse('{"__proto__": 1, "a\\"]": 2, "uri": 3}') as never);
    expect(Object.keys(fields).every((key) => key === 'u' || /^k[0-9a-f]*$/.test(key))).toBe(true);
    expect(Object.keys(fields)).toHaveLength(4);
  });
});

describe('encodeItems and batchesOf', () => {
  const identity = { dim: 4, modelId: MODEL_ID };
  const [v] = unitVectors(1, 4, 1);

  test('checks every item first, with the shared rules and Milvus’s limits', () => {
    expect(() => encodeItems({}, identity)).toThrow(InvalidInputError);
    expect(() => encodeItems([makeItem('a', v!), makeItem('b', v!, { modelId: 'other' })], identity)).toThrow(
      ModelMismatchError,
    );
    const refused: [string, unknown][] = [
      ['a lone surrogate in an id', makeItem('a\uD800', v!)],
      ['a lone surrogate in a uri', makeItem('a', v!, { uri: '\uDC00' })],
      ['a uri over 65,535 UTF-8 bytes', makeItem('a', v!, { uri: '\u00e9'.repeat(32_768) })],
      ['metadata over 64 KB', makeItem('a', v!, { metadata: { s: 'x'.repeat(70_000) } })],
      ['a width past Int32', { ...makeItem('a', v!), width: 2 ** 31 }],
    ];
    for (const [what, item] of refused)
      expect({ what, error: errorName(() => encodeItems([makeItem('ok', v!), item], identity)) }).toEqual({
        what,
        error: 'InvalidInputError',
      });
  });

  test('the last item of an id wins, in the order of last occurrences', () => {
    const [a, b, c] = unitVectors(3, 4, 2);
    const encoded = encodeItems(
      [makeItem('x', a!), makeItem('y', b!), makeItem('x', c!, { uri: 'file:///last.jpg' })],
      identity,
    );
    expect(encoded.map((item) => item.id)).toEqual(['y', 'x']);
    expect(encoded[1]!.row.uri).toBe('file:///last.jpg');
  });

  test('batches stay under the byte budget, in order; an item over it goes alone', () => {
    const sized = (id: string, bytes: number) => ({ id, row: {}, bytes });
    const batches = batchesOf(
      [sized('a', 40), sized('b', 40), sized('c', 40), sized('d', 150), sized('e', 10)],
      100,
    );
    expect(batches.map((batch) => batch.map((item) => item.id))).toEqual([['a', 'b'], ['c'], ['d'], ['e']]);
    expect(batchesOf([], 100)).toEqual([]);
  });
});

describe('collectionNameFor', () => {
  test('prefix + the model id made a valid Milvus name', () => {
    expect(collectionNameFor('clip_search_', 'ViT-B/32@openai')).toBe('clip_search_ViT_B_32_openai');
    expect(collectionNameFor('', '32-bit')).toBe('_32_bit');
    expect(collectionNameFor('p_', 'x'.repeat(400))).toHaveLength(255);
    expect(() => collectionNameFor('bad-prefix', 'm')).toThrow(InvalidInputError);
  });
});

function errorName(run: () => unknown): string {
  try {
    run();
    return 'no error';
  } catch (error) {
    return (error as Error).constructor.name;
  }
}
