import { BYTE_ALPHABET, fromByteChars, toByteChars } from './byte-alphabet';

/**
 * One merge rule as its pair key: the two adjacent symbols that become one, separated by one space (symbols
 * never contain a space: the byte alphabet moves it to U+0120). That is also the line of the merges file,
 * so the rules are kept as read, without splitting and joining 49k strings at every start. A rule's rank
 * is its position in the list.
 */
export type BpeMergeKey = string;

/** Marks the last symbol of a word, so `dog</w>` (a whole word) and `dog` (a prefix) are different tokens. */
const END_OF_WORD = '</w>';

// Rank and position share one heap key: rank · 2^32 + position (ranks < 2^16, positions < 2^32).
const POSITION_SPAN = 2 ** 32;

// Cache the common words; skip long pieces so that odd input cannot fill memory.
const CACHE_MAX_ENTRIES = 50_000;
const CACHE_MAX_PIECE_LENGTH = 64;

/**
 * CLIP's byte-level BPE: the vocabulary (bytes, bytes ending a word, one token per merge, then the special
 * tokens) and the merge procedure of `simple_tokenizer.py`.
 */
export class BytePairEncoder {
  private readonly ranks = new Map<string, number>();
  /** Ids of the byte tokens and the special tokens; a merged symbol's id comes from its rule's rank. */
  private readonly ids = new Map<string, number>();
  /** The id of the first merge's token: rule `rank` makes token `firstMergeId + rank`. */
  private readonly firstMergeId: number;
  /** Every merged symbol's id, for `idOf` only: built on first use. */
  private mergedIds: Map<string, number> | undefined;
  /** id → token, for decoding only: built on the first decode. */
  private tokenList: string[] | undefined;
  private readonly specialTokens: readonly string[];
  private readonly mergeKeys: readonly BpeMergeKey[];
  private readonly cache = new Map<string, readonly number[]>();

  /**
   * The vocabulary is the bytes, the bytes ending a word, one token per merge, then the special tokens.
   * Building a map of all ~49k merged symbols (strings made by joining each rule's pair) took most of a
   * short command's time; the merge step knows which rule made each symbol, so only the byte and special
   * tokens are mapped (see `mergedSymbolId`).
   */
  constructor(merges: readonly BpeMergeKey[], specialTokens: readonly string[]) {
    this.mergeKeys = merges;
    this.specialTokens = specialTokens;
    let id = 0;
    for (const c of BYTE_ALPHABET) this.ids.set(c, id++);
    for (const c of BYTE_ALPHABET) this.ids.set(c + END_OF_WORD, id++);
    this.firstMergeId = id;
    id += merges.length;
    for (const token of specialTokens) this.ids.set(token, id++);
    merges.forEach((key, rank) => this.ranks.set(key, rank));
  }

  private get tokens(): string[] {
    this.tokenList ??= [
      ...BYTE_ALPHABET,
      ...BYTE_ALPHABET.map((c) => c + END_OF_WORD),
      ...this.mergeKeys.map(mergedSymbol),
      ...this.specialTokens,
    ];
    return this.tokenList;
  }

  get vocabSize(): number {
    return 2 * BYTE_ALPHABET.length + this.mergeKeys.length + this.specialTokens.length;
  }

  /** The id of a vocabulary entry (a byte-level string, or a special token). */
  idOf(token: string): number | undefined {
    const direct = this.ids.get(token);
    if (direct !== undefined) return direct;
    if (this.mergedIds === undefined) {
      this.mergedIds = new Map();
      // Later duplicates win, as in the reference's dict(zip(...)).
      this.mergeKeys.forEach((key, rank) => this.mergedIds?.set(mergedSymbol(key), this.firstMergeId + rank));
    }
    return this.mergedIds.get(token);
  }

  /** The ids of one pre-tokenized word (text as typed, not yet UTF-8 encoded). */
  encodeWord(word: string): readonly number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const { symbols, madeBy } = this.merge(toByteChars(word));
    const ids = symbols.map((symbol, k) => {
      const rank = madeBy[k] ?? -1;
      const id = rank < 0 ? this.ids.get(symbol) : this.mergedSymbolId(symbol, rank);
      // Every merge result is itself in the vocabulary, so this only fires on a broken invariant.
      if (id === undefined)
        throw new Error(`BPE produced ${JSON.stringify(symbol)}, which is not in the vocabulary`);
      return id;
    });
    if (word.length <= CACHE_MAX_PIECE_LENGTH) {
      if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(word, ids);
    }
    return ids;
  }

  /**
   * The id of `symbol`, which rule `rank` made: that rule's token, unless a later rule makes the same
   * string (`ab c` and `a bc` both make `abc`): the reference's dict(zip(vocab, ids)) keeps the last. Any
   * rule making `symbol` splits it in two, so looking up each split finds them all.
   */
  private mergedSymbolId(symbol: string, rank: number): number {
    let last = rank;
    for (let k = 1; k < symbol.length; k++) {
      const other = this.ranks.get(pairKey(symbol.slice(0, k), symbol.slice(k)));
      if (other !== undefined && other > last) last = other;
    }
    return this.firstMergeId + last;
  }

  /** Text back from ids: `</w>` becomes a space, invalid UTF-8 becomes U+FFFD. Unknown ids are skipped. */
  decode(ids: readonly number[]): string {
    const chars = ids.map((id) => this.tokens[id] ?? '').join('');
    return fromByteChars(chars).toString('utf8').replaceAll(END_OF_WORD, ' ');
  }

  /**
   * Applies merges to a word's byte characters until none applies. The reference repeatedly takes the
   * lowest-ranked adjacent pair and merges all its occurrences left to right; rescanning the word each
   * time is quadratic, so a priority queue keyed by (rank, position) does the same in O(n log n): all
   * entries of one rank (one pair, since ranks are unique) are popped in position order and merged as a
   * batch, and the pairs that batch creates enter the queue only after it, exactly like the rescan.
   */
  private merge(byteChars: string): { symbols: string[]; madeBy: number[] } {
    // Byte characters are all in the BMP: one UTF-16 unit each.
    const n = byteChars.length;
    const symbols: string[] = [];
    for (let i = 0; i < n; i++)
      symbols.push(i === n - 1 ? byteChars.charAt(i) + END_OF_WORD : byteChars.charAt(i));
    // The rank of the rule that made the symbol at each position; -1 for a byte never merged.
    const madeAt = new Int32Array(n).fill(-1);
    if (n <= 1) return { symbols, madeBy: [-1] };

    // A doubly linked list over positions; a merged symbol keeps its left position.
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const symbolAt = (i: number): string => symbols[i] ?? '';
    const rankAt = (i: number): number | undefined => {
      const j = next[i] ?? -1;
      return j < 0 ? undefined : this.ranks.get(pairKey(symbolAt(i), symbolAt(j)));
    };

    const queue = new MinHeap();
    const enqueue = (i: number): void => {
      const rank = i < 0 ? undefined : rankAt(i);
      if (rank !== undefined) queue.push(rank * POSITION_SPAN + i);
    };
    for (let i = 0; i < n - 1; i++) enqueue(i);

    const merged: number[] = [];
    while (queue.size > 0) {
      const rank = Math.floor((queue.peek() ?? 0) / POSITION_SPAN);
      merged.length = 0;
      while (queue.size > 0 && Math.floor((queue.peek() ?? 0) / POSITION_SPAN) === rank) {
        const i = (queue.pop() ?? 0) % POSITION_SPAN;
        // Stale entry: its symbols were merged into something else since it was queued.
        if (alive[i] !== 1 || rankAt(i) !== rank) continue;
        const j = next[i] ?? -1;
        symbols[i] = symbolAt(i) + symbolAt(j);
        madeAt[i] = rank;
        alive[j] = 0;
        const after = next[j] ?? -1;
        next[i] = after;
        if (after >= 0) prev[after] = i;
        merged.push(i);
      }
      for (const i of merged) {
        if (alive[i] !== 1) continue;
        enqueue(prev[i] ?? -1);
        enqueue(i);
      }
    }

    const out: string[] = [];
    const madeBy: number[] = [];
    for (let i = 0; i >= 0; i = next[i] ?? -1) {
      out.push(symbolAt(i));
      madeBy.push(madeAt[i] ?? -1);
    }
    return { symbols: out, madeBy };
  }
}

function pairKey(a: string, b: string): BpeMergeKey {
  return `${a} ${b}`;
}

/** The symbol a merge rule makes: its two symbols joined. */
function mergedSymbol(key: BpeMergeKey): string {
  return key.replace(' ', '');
}

/** A binary min-heap of numbers. */
class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): number | undefined {
    return this.items[0];
  }

  push(value: number): void {
    const items = this.items;
    let i = items.push(value) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] ?? 0;
      if (p <= value) break;
      items[i] = p;
      i = parent;
    }
    items[i] = value;
  }

  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && (items[right] ?? 0) < (items[left] ?? 0) ? right : left;
      const c = items[child] ?? 0;
      if (c >= last) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
