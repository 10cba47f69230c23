import { BytePairEncoder } from '../../src/tokenizer/bpe';

/** The first merged token's id: 256 bytes, then the same 256 ending a word. */
const FIRST_MERGE_ID = 512;

describe('BytePairEncoder ids', () => {
  test('a merged symbol takes the id of the rule that made it', () => {
    const bpe = new BytePairEncoder(['a b', 'ab c</w>'], ['<|startoftext|>', '<|endoftext|>']);
    expect(bpe.encodeWord('abc')).toEqual([FIRST_MERGE_ID + 1]);
    expect(bpe.encodeWord('ab')).toEqual([bpe.idOf('a'), bpe.idOf('b</w>')]);
    expect(bpe.idOf('<|endoftext|>')).toBe(FIRST_MERGE_ID + 2 + 1);
    expect(bpe.vocabSize).toBe(FIRST_MERGE_ID + 2 + 2);
  });

  test('a symbol two rules make gets the later rule’s id, as the reference’s dict(zip(vocab, ids))', () => {
    // `ab c</w>` makes abc</w> while encoding; `a bc</w>`, a later rule, makes the same string.
    const bpe = new BytePairEncoder(['a b', 'b c</w>', 'ab c</w>', 'a bc</w>', 'x y'], ['<s>', '</s>']);
    expect(bpe.encodeWord('abc')).toEqual([FIRST_MERGE_ID + 3]);
    expect(bpe.idOf('abc</w>')).toBe(FIRST_MERGE_ID + 3);
    expect(bpe.encodeWord('bc')).toEqual([FIRST_MERGE_ID + 1]);
    expect(bpe.encodeWord('xy')).toEqual([bpe.idOf('x'), bpe.idOf('y</w>')]);
  });
});
