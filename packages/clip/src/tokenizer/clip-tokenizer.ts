import path from 'node:path';

import { InvalidInputError } from '@clip-search/contracts';
import { BytePairEncoder } from './bpe';
import { readBpeMerges } from './bpe-merges-file';
import { preTokenize } from './pre-tokenizer';
import { cleanClipText } from './text-cleaning';

export interface TokenizedText {
  /** Exactly `contextLength` ids: SOT, BPE tokens, EOT, then zeros. */
  readonly ids: number[];
  /** Real tokens including SOT and EOT (where the zero padding starts). */
  readonly length: number;
  /** True when the text did not fit and was cut, EOT kept last. */
  readonly truncated: boolean;
}

const START_OF_TEXT = '<|startoftext|>';
const END_OF_TEXT = '<|endoftext|>';

/** CLIP's vocabulary is 49,408 ids: 256 bytes, 256 word-final bytes, these merges, 2 special tokens. */
const MERGE_COUNT = 49152 - 256 - 2;

/**
 * OpenAI CLIP's tokenizer (`simple_tokenizer.py` with `clip.tokenize(text, context_length, truncate=True)`),
 * id for id: clean the text, split it into words, byte-level BPE each word, frame with start/end of text,
 * cut or zero-pad to the context length.
 */
export class ClipTokenizer {
  /** The BPE merges this project ships (OpenAI CLIP, MIT): packages/clip/assets/tokenizer. */
  static readonly bundledBpePath = path.resolve(
    __dirname,
    '../../assets/tokenizer/bpe_simple_vocab_16e6.txt.gz',
  );

  readonly startOfTextId: number;
  readonly endOfTextId: number;
  /** The special tokens typed as text are looked up whole, never BPE-split (the reference seeds its cache). */
  private readonly specialIds: ReadonlyMap<string, number>;

  private constructor(
    private readonly bpe: BytePairEncoder,
    readonly contextLength: number,
  ) {
    this.startOfTextId = bpe.vocabSize - 2;
    this.endOfTextId = bpe.vocabSize - 1;
    this.specialIds = new Map([
      [START_OF_TEXT, this.startOfTextId],
      [END_OF_TEXT, this.endOfTextId],
    ]);
  }

  /** Loads the gzipped merges file; ModelLoadError if it is missing or damaged. */
  static async fromBpeFile(bpeGzPath: string, contextLength = 77): Promise<ClipTokenizer> {
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new InvalidInputError(
        `contextLength must be an integer ≥ 2 (room for SOT and EOT), got ${contextLength}`,
      );
    }
    const merges = await readBpeMerges(bpeGzPath, MERGE_COUNT);
    return new ClipTokenizer(new BytePairEncoder(merges, [START_OF_TEXT, END_OF_TEXT]), contextLength);
  }

  /** The model input for one text: always `contextLength` ids. */
  tokenize(text: string): TokenizedText {
    const room = this.contextLength - 2;
    // One token past the room is enough to know the text was cut; the rest need not be encoded.
    const tokens = this.encodeUpTo(text, room + 1);
    const truncated = tokens.length > room;
    const body = truncated ? tokens.slice(0, room) : tokens;
    const ids = new Array<number>(this.contextLength).fill(0);
    ids[0] = this.startOfTextId;
    body.forEach((id, i) => (ids[i + 1] = id));
    ids[body.length + 1] = this.endOfTextId;
    return { ids, length: body.length + 2, truncated };
  }

  /** The BPE ids of a text, without SOT/EOT, padding or truncation (the reference's `encode`). */
  encode(text: string): number[] {
    return this.encodeUpTo(text, Infinity);
  }

  /** Text from ids (the reference's `decode`): words end with a space; padding id 0 decodes to "!". */
  decode(ids: readonly number[]): string {
    return this.bpe.decode(ids);
  }

  private encodeUpTo(text: string, limit: number): number[] {
    if (typeof text !== 'string') {
      throw new InvalidInputError(`Text to tokenize must be a string, got ${typeof text}`);
    }
    const ids: number[] = [];
    for (const word of preTokenize(cleanClipText(text))) {
      const special = this.specialIds.get(word);
      if (special !== undefined) ids.push(special);
      // A loop, not push(...): one pathological word can have more ids than a call has arguments.
      else for (const id of this.bpe.encodeWord(word)) ids.push(id);
      if (ids.length >= limit) break;
    }
    return ids;
  }
}
