// CONTRACT STUB — implemented by the tokenizer work (issue 2). Keep the exported names and shapes.
import path from 'node:path';

export interface TokenizedText {
  /** Exactly `contextLength` ids: SOT, BPE tokens, EOT, then zeros. */
  readonly ids: number[];
  /** Real tokens including SOT and EOT (where the zero padding starts). */
  readonly length: number;
  /** True when the text did not fit and was cut, EOT kept last. */
  readonly truncated: boolean;
}

export class ClipTokenizer {
  /** The BPE merges this project ships (OpenAI CLIP, MIT): core/assets/tokenizer. */
  static readonly bundledBpePath = path.resolve(__dirname, '../../assets/tokenizer/bpe_simple_vocab_16e6.txt.gz');

  static fromBpeFile(_bpeGzPath: string, _contextLength = 77): Promise<ClipTokenizer> {
    return Promise.reject(new Error('not implemented'));
  }

  tokenize(_text: string): TokenizedText {
    throw new Error('not implemented');
  }
}
