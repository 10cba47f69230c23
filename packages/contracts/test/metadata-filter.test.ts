import { InvalidInputError } from '../src/errors/clip-search-error';
import { checkFilter, matchesFilter } from '../src/vector-store/metadata-filter';
import type { ItemRecord, Metadata, MetadataFilter } from '../src/vector-store/vector-store';
import { FILTER_LIMITS } from '../src/vector-store/vector-store';

function item(metadata: Metadata, uri = 'file:///photos/2024/cat.jpg'): ItemRecord {
  return {
    id: 'a',
    uri,
    contentHash: 'sha256:a',
    width: 1,
    height: 1,
    modelId: 'm',
    ingestedAt: '2026-01-01T00:00:00.000Z',
    metadata,
  };
}

const photo = item({
  camera: 'canon',
  rating: 4,
  favourite: true,
  one: '1',
  zero: 0,
  empty: '',
  tags: ['cat', 'sofa'],
  exif: { iso: 100 },
  nothing: null,
  uri: 'file:///elsewhere/',
});

describe('matchesFilter', () => {
  test('the empty filter matches everything', () => {
    expect(matchesFilter(photo, {})).toBe(true);
    expect(matchesFilter(item({}), {})).toBe(true);
  });

  test('a scalar and { eq } are equality with the JSON type', () => {
    expect(matchesFilter(photo, { camera: 'canon' })).toBe(true);
    expect(matchesFilter(photo, { camera: { eq: 'canon' } })).toBe(true);
    expect(matchesFilter(photo, { camera: 'Canon' })).toBe(false);
    expect(matchesFilter(photo, { rating: 4 })).toBe(true);
    expect(matchesFilter(photo, { rating: 4.0 })).toBe(true);
    expect(matchesFilter(photo, { rating: '4' })).toBe(false);
    expect(matchesFilter(photo, { favourite: true })).toBe(true);
    expect(matchesFilter(photo, { favourite: 1 })).toBe(false);
    expect(matchesFilter(photo, { favourite: 'true' })).toBe(false);
    // The string "1", the number 1 and true are three different values.
    expect(matchesFilter(photo, { one: '1' })).toBe(true);
    expect(matchesFilter(photo, { one: 1 })).toBe(false);
    expect(matchesFilter(photo, { one: true })).toBe(false);
    expect(matchesFilter(photo, { zero: 0 })).toBe(true);
    expect(matchesFilter(photo, { zero: -0 })).toBe(true);
    expect(matchesFilter(photo, { zero: false })).toBe(false);
    expect(matchesFilter(photo, { zero: '' })).toBe(false);
    expect(matchesFilter(photo, { empty: '' })).toBe(true);
  });

  test('{ prefix } holds for strings only', () => {
    expect(matchesFilter(photo, { camera: { prefix: 'can' } })).toBe(true);
    expect(matchesFilter(photo, { camera: { prefix: '' } })).toBe(true);
    expect(matchesFilter(photo, { camera: { prefix: 'canon' } })).toBe(true);
    expect(matchesFilter(photo, { camera: { prefix: 'canons' } })).toBe(false);
    expect(matchesFilter(photo, { camera: { prefix: 'CAN' } })).toBe(false);
    expect(matchesFilter(photo, { rating: { prefix: '4' } })).toBe(false);
    expect(matchesFilter(photo, { favourite: { prefix: 't' } })).toBe(false);
    expect(matchesFilter(photo, { empty: { prefix: '' } })).toBe(true);
    expect(matchesFilter(photo, { missing: { prefix: '' } })).toBe(false);
    // Code points beyond the BMP are matched whole.
    expect(matchesFilter(item({ s: 'a😀b' }), { s: { prefix: 'a😀' } })).toBe(true);
    expect(matchesFilter(item({ s: 'a😀b' }), { s: { prefix: 'a😁' } })).toBe(false);
  });

  test('{ in } is any of its values, each with its type; an empty list matches nothing', () => {
    expect(matchesFilter(photo, { camera: { in: ['nikon', 'canon'] } })).toBe(true);
    expect(matchesFilter(photo, { camera: { in: ['nikon'] } })).toBe(false);
    expect(matchesFilter(photo, { rating: { in: ['4', 3, true] } })).toBe(false);
    expect(matchesFilter(photo, { rating: { in: ['4', 4] } })).toBe(true);
    expect(matchesFilter(photo, { favourite: { in: [1, 'true', true] } })).toBe(true);
    expect(matchesFilter(photo, { camera: { in: [] } })).toBe(false);
  });

  test('arrays, objects, null and absent fields match no condition', () => {
    for (const field of ['tags', 'exif', 'nothing', 'missing']) {
      for (const condition of ['cat', 100, true, { prefix: '' }, { in: ['cat', 100, true] }])
        expect(matchesFilter(photo, { [field]: condition })).toBe(false);
    }
    // Non-finite numbers (which JSON would turn into null) are not values either.
    expect(matchesFilter(item({ n: Number.NaN }), { n: { in: [0] } })).toBe(false);
    expect(matchesFilter(item({ n: Number.POSITIVE_INFINITY }), { n: { prefix: '' } })).toBe(false);
  });

  test('`uri` names the source URI, never a metadata field called uri', () => {
    expect(matchesFilter(photo, { uri: 'file:///photos/2024/cat.jpg' })).toBe(true);
    expect(matchesFilter(photo, { uri: { prefix: 'file:///photos/' } })).toBe(true);
    expect(matchesFilter(photo, { uri: { prefix: 'file:///photos/2025/' } })).toBe(false);
    expect(matchesFilter(photo, { uri: { prefix: 'file:///elsewhere/' } })).toBe(false);
    expect(matchesFilter(photo, { uri: 'file:///elsewhere/' })).toBe(false);
    expect(matchesFilter(photo, { uri: { in: [1, 'file:///photos/2024/cat.jpg'] } })).toBe(true);
    expect(matchesFilter(photo, { uri: { in: [1, true] } })).toBe(false);
    expect(matchesFilter(photo, { uri: 1 })).toBe(false);
  });

  test('every condition must hold', () => {
    expect(matchesFilter(photo, { camera: 'canon', rating: 4, uri: { prefix: 'file:' } })).toBe(true);
    expect(matchesFilter(photo, { camera: 'canon', rating: 5 })).toBe(false);
    expect(matchesFilter(photo, { camera: 'canon', missing: 'x' })).toBe(false);
  });

  test('only own fields count, whatever their name', () => {
    expect(matchesFilter(item({}), { toString: { prefix: '' } })).toBe(false);
    expect(matchesFilter(item({}), { constructor: { prefix: '' } })).toBe(false);
    const parsed = JSON.parse('{"__proto__": "x", "hasOwnProperty": 1}') as Metadata;
    expect(matchesFilter(item(parsed), JSON.parse('{"__proto__": "x"}') as MetadataFilter)).toBe(true);
    expect(matchesFilter(item(parsed), { hasOwnProperty: 1 })).toBe(true);
  });

  test('a condition of no known shape throws InvalidInputError', () => {
    for (const condition of [null, { gt: 1 }, { eq: 1, in: [1] }, { prefix: 3 }, { in: 'x' }, [1]])
      expect(() => matchesFilter(photo, { a: condition } as unknown as MetadataFilter)).toThrow(
        InvalidInputError,
      );
  });
});

describe('checkFilter', () => {
  test('accepts MetadataFilters within the limits', () => {
    for (const filter of [
      {},
      { a: 'x', b: 1, c: false },
      { a: { eq: 1 } },
      { a: { prefix: '' } },
      { a: { in: [] } },
      { a: { in: ['x', 1, true] } },
    ])
      expect(() => {
        checkFilter(filter);
      }).not.toThrow();
  });

  test('refuses anything else with a message naming the field', () => {
    const refused: [unknown, RegExp][] = [
      [null, /^filter must be an object/],
      [[], /^filter must be an object/],
      ['camera', /^filter must be an object/],
      [{ a: null }, /^filter on "a" must be a string/],
      [{ a: { prefix: 3 } }, /^filter on "a" must be/],
      [{ a: { in: 'x' } }, /^filter on "a" must be/],
      [{ a: { eq: 1, in: [1] } }, /^filter on "a" must be/],
      [{ a: { gt: 1 } }, /^filter on "a" must be/],
      [{ a: Number.POSITIVE_INFINITY }, /^filter on "a" must be/],
      [{ '': 1 }, /^filter keys must be non-empty/],
      [
        Object.fromEntries(Array.from({ length: FILTER_LIMITS.maxConditions + 1 }, (_, i) => [`k${i}`, i])),
        /conditions; at most/,
      ],
      [{ a: { in: Array.from({ length: FILTER_LIMITS.maxValues + 1 }, (_, i) => i) } }, /values; at most/],
    ];
    for (const [filter, message] of refused) {
      expect(() => {
        checkFilter(filter);
      }).toThrow(InvalidInputError);
      expect(() => {
        checkFilter(filter);
      }).toThrow(message);
    }
  });
});
