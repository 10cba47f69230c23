import { buildAttentionMask, CLIP_EOT_ID } from '../src/embedder/attention-mask';

const SOT = 49406;
const EOT = CLIP_EOT_ID;

function batch(rows: number[][]) {
  const length = rows[0]!.length;
  return { ids: BigInt64Array.from(rows.flat().map(BigInt)), count: rows.length, length };
}

describe('buildAttentionMask', () => {
  test('1 up to and including EOT, 0 after, per row', () => {
    const mask = buildAttentionMask(
      batch([
        [SOT, 320, 1125, EOT, 0, 0],
        [SOT, EOT, 0, 0, 0, 0],
        [SOT, 1, 2, 3, 4, EOT],
      ]),
    );
    expect(Array.from(mask, Number)).toEqual([1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  });

  test("a real token 0 ('!') before EOT is attended; only what follows EOT is masked", () => {
    const mask = buildAttentionMask(batch([[SOT, 0, 0, EOT, 0]]));
    expect(Array.from(mask, Number)).toEqual([1, 1, 1, 1, 0]);
  });

  test('padding with EOT itself masks everything after the first EOT', () => {
    const mask = buildAttentionMask(batch([[SOT, 320, EOT, EOT, EOT]]));
    expect(Array.from(mask, Number)).toEqual([1, 1, 1, 0, 0]);
  });

  test('a row without EOT is attended up to its last non-pad id', () => {
    const mask = buildAttentionMask(batch([[SOT, 320, 7, 0, 0]]), { eotId: 2 });
    expect(Array.from(mask, Number)).toEqual([1, 1, 1, 0, 0]);
  });

  test('same shape and type as the ids', () => {
    const b = batch([
      [SOT, EOT],
      [SOT, EOT],
    ]);
    const mask = buildAttentionMask(b);
    expect(mask).toBeInstanceOf(BigInt64Array);
    expect(mask).toHaveLength(b.ids.length);
  });
});
