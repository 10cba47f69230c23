import {
  ClipSearchError,
  InvalidImageError,
  MAX_RESULT_WINDOW,
  UnsupportedImageError,
  type MetadataFilter,
  type SearchHit,
} from '@clip-search/contracts';
import { type Metrics } from '@clip-search/platform';
import type { BackendGate } from '../app/backend-gate';
import { NotFoundError, ValidationFailedError } from '../http/http-errors';
import type { ImageUrlDownloads, ImageUrlFetcher } from '../image-url/image-url-fetcher';
import { combineWeighted, type WeightedVector } from './query-vector';

interface TermBase {
  readonly weight: number;
  /** Where the term was in the request (`query`, `query[2]`, `image`), for error messages. */
  readonly field: string;
}

/** One term of a query, decoded from the request (base64 already turned into bytes). */
export type QueryTerm =
  | (TermBase & { readonly kind: 'text'; readonly text: string })
  | (TermBase & { readonly kind: 'image'; readonly image: Uint8Array })
  | (TermBase & { readonly kind: 'imageUrl'; readonly url: string })
  | (TermBase & { readonly kind: 'item'; readonly itemId: string })
  | (TermBase & { readonly kind: 'vector'; readonly vector: readonly number[] });

export interface SearchOptions {
  readonly k: number;
  readonly offset: number;
  readonly minScore?: number;
  readonly filter?: MetadataFilter;
}

export interface SearchOutcome {
  /** Sorted by score descending (ties by id), page `offset .. offset + k`. */
  readonly hits: readonly SearchHit[];
  readonly tookMs: number;
  /** True when a text term was longer than the model's context and was cut. */
  readonly queryTruncated: boolean;
}

/** Deep pages of a nearest-neighbour search cost as much as everything before them: a 422 here, first. */
function checkWindow(options: SearchOptions): void {
  if (options.offset + options.k > MAX_RESULT_WINDOW)
    throw new ValidationFailedError([
      {
        field: 'offset',
        message: `offset + k must be at most ${MAX_RESULT_WINDOW} (narrow the query instead)`,
      },
    ]);
}

/** Who asks, and whether they are still waiting: passed down to the embedder. */
export interface SearchCaller {
  /** Aborts the work (image downloads, decodes not yet started) when the client goes away. */
  readonly signal?: AbortSignal;
  /** The client's key (its address, an API key id): image decoding is shared fairly between clients. */
  readonly client?: string;
}

function checkImageUrls(terms: readonly QueryTerm[], max: number): void {
  const urls = terms.filter((term) => term.kind === 'imageUrl').length;
  if (urls > max)
    throw new ValidationFailedError([
      { field: 'query', message: `holds ${urls} imageUrl terms; at most ${max} are allowed` },
    ]);
}

export interface SearchServiceDeps {
  readonly backends: BackendGate;
  readonly metrics: Metrics;
  readonly imageUrlFetcher: ImageUrlFetcher;
  /** IMAGE_URL_MAX_PER_REQUEST: each is a download of up to IMAGE_URL_MAX_BYTES. */
  readonly maxImageUrls: number;
}

/**
 * Text → image, image → image and mixed queries: embeds every term (texts in one model call, images in
 * another), combines them into one unit vector (query-vector.ts) and asks the store for the page.
 */
export class SearchService {
  constructor(private readonly deps: SearchServiceDeps) {}

  async search(
    terms: readonly QueryTerm[],
    options: SearchOptions,
    caller: SearchCaller = {},
  ): Promise<SearchOutcome> {
    const started = performance.now();
    checkWindow(options);
    checkImageUrls(terms, this.deps.maxImageUrls);
    const { embedder } = this.deps.backends.require();
    // Downloaded images count against the process's byte budget until they are embedded.
    const downloads = this.deps.imageUrlFetcher.downloads();
    let embedded: { vectors: WeightedVector[]; truncated: boolean };
    try {
      embedded = await this.embedTerms(terms, caller, downloads);
    } finally {
      downloads.close();
    }
    const { vectors, truncated } = embedded;
    const query = combineWeighted(vectors, embedder.info.dim);
    const hits = await this.storeSearch(query, options);
    return { hits, tookMs: elapsed(started), queryTruncated: truncated };
  }

  /** "More like this": the item's own vector as the query, the item itself left out of the results. */
  async similar(itemId: string, options: SearchOptions): Promise<SearchOutcome> {
    const started = performance.now();
    checkWindow(options);
    const { store } = this.deps.backends.require();
    const vector = await store.getVector(itemId);
    if (vector === undefined) throw new NotFoundError(`No item with id ${JSON.stringify(itemId)}`);
    // Ask from the top for one more than the page and drop the item wherever it ranks, so that pages
    // stay contiguous whether or not the item itself falls inside the requested window.
    const wide = await this.storeSearch(vector, {
      ...options,
      offset: 0,
      k: Math.min(options.offset + options.k + 1, MAX_RESULT_WINDOW),
    });
    const hits = wide
      .filter((hit) => hit.item.id !== itemId)
      .slice(options.offset, options.offset + options.k);
    return { hits, tookMs: elapsed(started), queryTruncated: false };
  }

  private async storeSearch(vector: Float32Array, options: SearchOptions): Promise<SearchHit[]> {
    const { store, storeKind } = this.deps.backends.require();
    const stop = this.deps.metrics.searchDuration.startTimer({ store: storeKind });
    try {
      return await store.search({
        vector,
        k: options.k,
        offset: options.offset,
        ...(options.minScore === undefined ? {} : { minScore: options.minScore }),
        ...(options.filter === undefined ? {} : { filter: options.filter }),
      });
    } finally {
      stop();
    }
  }

  private async embedTerms(
    terms: readonly QueryTerm[],
    caller: SearchCaller,
    downloads: ImageUrlDownloads,
  ): Promise<{ vectors: WeightedVector[]; truncated: boolean }> {
    const { embedder, store } = this.deps.backends.require();
    const { signal } = caller;
    // All texts in one model call, all images in another; every term then takes its slot.
    const texts = terms.filter((t) => t.kind === 'text');
    const textBatch =
      texts.length === 0 ? Promise.resolve([]) : embedder.embedTexts(texts.map((t) => t.text));
    const images = terms.filter((t) => t.kind === 'image' || t.kind === 'imageUrl');
    const imageBatch =
      images.length === 0
        ? Promise.resolve([])
        : Promise.all(
            images.map((t) =>
              t.kind === 'image'
                ? Promise.resolve(t.image)
                : downloads.fetch(t.url, signal).catch(inField(t.field)),
            ),
          ).then((bytes) => embedder.embedImages(bytes, caller));
    let truncated = false;
    const embedTerm = async (term: QueryTerm): Promise<WeightedVector> => {
      const { weight, field } = term;
      switch (term.kind) {
        case 'text': {
          const embedding = slot(await textBatch, texts.indexOf(term));
          truncated ||= embedding.truncated;
          return { vector: embedding.embedding, weight, field };
        }
        case 'image':
        case 'imageUrl': {
          const embedding = slot(await imageBatch, images.indexOf(term));
          if (!embedding.ok) return inField(field)(embedding.error);
          return { vector: embedding.embedding, weight, field };
        }
        case 'item': {
          const vector = await store.getVector(term.itemId);
          if (vector === undefined)
            throw new NotFoundError(`${field}.itemId: no item with id ${JSON.stringify(term.itemId)}`);
          return { vector, weight, field };
        }
        case 'vector':
          return { vector: term.vector, weight, field: `${field}.vector` };
      }
    };
    // Settle everything before failing, so no fetch or model call is left running unobserved; the first
    // failing term (in request order) is the one reported.
    const settled = await Promise.allSettled(terms.map(embedTerm));
    const vectors: WeightedVector[] = [];
    for (const result of settled) {
      if (result.status === 'rejected') throw result.reason;
      vectors.push(result.value);
    }
    return { vectors, truncated };
  }
}

/** The i-th result of a batch call; a port returning fewer results than inputs is a bug. */
function slot<T>(results: readonly T[], index: number): T {
  const result = results[index];
  if (result === undefined)
    throw new Error(`The embedder returned ${results.length} results; slot ${index} is missing`);
  return result;
}

/** The same typed error, its message prefixed with the request field it concerns. */
function inField(field: string): (error: unknown) => never {
  return (error: unknown) => {
    // The embedder port reports every bad image as InvalidImageError; a refused format (SVG, BMP, HEIC)
    // travels as its cause and keeps its own status (415).
    if (
      error instanceof UnsupportedImageError ||
      (error as Error | undefined)?.cause instanceof UnsupportedImageError
    )
      throw new UnsupportedImageError(`${field}: ${(error as Error).message}`);
    if (error instanceof InvalidImageError) throw new InvalidImageError(`${field}: ${error.message}`);
    if (error instanceof ClipSearchError) error.message = `${field}: ${error.message}`;
    throw error;
  };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
