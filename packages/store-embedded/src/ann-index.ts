import hnswlib from 'hnswlib-node';

/**
 * The in-memory HNSW graph (hnswlib-node) over the store's vectors, keyed by the integer labels of the item
 * table. Inner product on L2-normalized vectors is cosine similarity: score = 1 − distance.
 *
 * Chosen over usearch by bench/vector-index-choice.ts (numbers in the README): faster to query and to build
 * on one thread at the same recall, and deletes that only mark a node (it keeps routing searches, so the
 * graph does not lose reachability). usearch's multi-threaded inserts, its one speed edge, gained nothing on
 * two shared cores and lost nodes in our stress runs (items their own vector could not find); its
 * remove/re-add path has a history of such bugs.
 *
 * Labels are never reused by the item table, so a deleted label is never added again: `remove` only marks,
 * `add` either inserts a new label or updates a live one in place.
 */
export interface AnnIndexOptions {
  readonly dim: number;
  /** HNSW M: links per node. */
  readonly connectivity: number;
  /** efConstruction: candidate list size while inserting. */
  readonly expansionAdd: number;
  /** ef: candidate list size while searching; results for any k ≤ ef are prefixes of one another. */
  readonly expansionSearch: number;
}

export interface AnnMatches {
  readonly labels: number[];
  readonly scores: number[];
}

/** What a saved index needs besides its file to be loaded back and trusted. */
export interface AnnIndexState {
  /** Nodes in the graph, deleted ones included. */
  readonly nodes: number;
  /** Live (not deleted) vectors. */
  readonly live: number;
  /** The graph parameters it was built with: another M or efConstruction means a rebuild. */
  readonly params: string;
}

const INITIAL_CAPACITY = 1_024;
const RANDOM_SEED = 100;

export class AnnIndex {
  private constructor(
    private readonly native: hnswlib.HierarchicalNSW,
    readonly options: AnnIndexOptions,
    /** Nodes marked deleted (hnswlib-node does not report it). */
    private deleted: number,
  ) {}

  static create(options: AnnIndexOptions): AnnIndex {
    const native = new hnswlib.HierarchicalNSW('ip', options.dim);
    native.initIndex({
      maxElements: INITIAL_CAPACITY,
      m: options.connectivity,
      efConstruction: options.expansionAdd,
      randomSeed: RANDOM_SEED,
    });
    native.setEf(options.expansionSearch);
    return new AnnIndex(native, options, 0);
  }

  /** Loads a saved index; throws when the file is unreadable or does not match `state` and `options`. */
  static load(path: string, options: AnnIndexOptions, state: AnnIndexState): AnnIndex {
    if (state.params !== paramsOf(options)) {
      throw new Error(`index was built with ${state.params}, the store now asks for ${paramsOf(options)}`);
    }
    const native = new hnswlib.HierarchicalNSW('ip', options.dim);
    native.readIndexSync(path);
    if (native.getNumDimensions() !== options.dim) {
      throw new Error(`index file has ${native.getNumDimensions()}-d vectors, expected ${options.dim}`);
    }
    if (native.getCurrentCount() !== state.nodes) {
      throw new Error(`index file has ${native.getCurrentCount()} nodes, its manifest says ${state.nodes}`);
    }
    native.setEf(options.expansionSearch);
    return new AnnIndex(native, options, state.nodes - state.live);
  }

  /** Live vectors. */
  get size(): number {
    return this.native.getCurrentCount() - this.deleted;
  }

  get state(): AnnIndexState {
    return { nodes: this.native.getCurrentCount(), live: this.size, params: paramsOf(this.options) };
  }

  /** Inserts new labels, or replaces the vector of live ones. `vectors` packs one row per label. */
  add(labels: readonly number[], vectors: Float32Array): void {
    const needed = this.native.getCurrentCount() + labels.length;
    if (needed > this.native.getMaxElements()) {
      this.native.resizeIndex(Math.max(needed, this.native.getMaxElements() * 2));
    }
    const dim = this.options.dim;
    labels.forEach((label, row) => {
      // The binding takes plain arrays.
      this.native.addPoint(Array.from(vectors.subarray(row * dim, (row + 1) * dim)), label);
    });
  }

  /** Marks the labels deleted; labels the index does not hold are ignored. */
  remove(labels: readonly number[]): void {
    for (const label of labels) {
      try {
        this.native.markDelete(label);
        this.deleted++;
      } catch {
        // Not in the index: inserted and deleted since the snapshot, or never indexed.
      }
    }
  }

  /** The stored vector of a live label, or undefined. */
  vectorOf(label: number): Float32Array | undefined {
    try {
      return Float32Array.from(this.native.getPoint(label));
    } catch {
      return undefined;
    }
  }

  /** The `depth` nearest live labels by inner product, best first. */
  search(query: Float32Array, depth: number): AnnMatches {
    const wanted = Math.min(depth, this.size);
    if (wanted === 0) return { labels: [], scores: [] };
    const found = this.native.searchKnn(Array.from(query), wanted);
    return { labels: found.neighbors, scores: found.distances.map((distance) => 1 - distance) };
  }

  /**
   * Writes the index to `path` from a worker thread: the event loop (and searches) go on meanwhile, but
   * nothing may change the index until the promise settles.
   */
  async save(path: string): Promise<void> {
    await this.native.writeIndex(path);
  }
}

function paramsOf(options: AnnIndexOptions): string {
  return `hnswlib M=${options.connectivity} efConstruction=${options.expansionAdd}`;
}
