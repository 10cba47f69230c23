import {
  filterViolation,
  type IngestJobStatus,
  type ItemRecord,
  type MetadataFilter,
  type SearchHit,
} from '@clip-search/contracts';
import type { DetachedPayloads } from '../http/detached-payloads';
import { ValidationFailedError } from '../http/http-errors';
import { childPath } from '../http/json-shape';
import type { QueryTerm } from '../services/search-service';
import type { Item } from './item-models';
import type { IngestJob } from './ingest-models';
import type {
  IncludeField,
  MetadataFilterBody,
  QueryTerms,
  QueryText,
  SearchResponse,
  SearchResult,
} from './search-models';

/** Where an item's bytes are served; relative, so they work behind any proxy or prefix-less host. */
export const imagePath = (id: string): string => `/v1/items/${encodeURIComponent(id)}/image`;
export const thumbnailPath = (id: string): string => `/v1/items/${encodeURIComponent(id)}/thumbnail`;

export const ALL_INCLUDES: readonly IncludeField[] = ['metadata', 'imageUrl', 'thumbnailUrl'];

/** Base64 is checked and decoded a slice at a time, so a 27 MB payload never blocks the event loop. */
const BASE64_SLICE_CHARS = 1 << 20;

const yieldToEventLoop = () =>
  new Promise<void>((resolve) => {
    setImmediate(resolve);
  });

/** Which base64 alphabet every character of `digits` belongs to (`both`: digits common to the two). */
function base64Alphabet(digits: string): 'standard' | 'url-safe' | 'both' | undefined {
  if (/^[A-Za-z0-9]*$/.test(digits)) return 'both';
  if (/^[A-Za-z0-9+/]*$/.test(digits)) return 'standard';
  if (/^[A-Za-z0-9_-]*$/.test(digits)) return 'url-safe';
  return undefined;
}

/** Where the base64 digits of `text` end: before trailing whitespace and at most two `=`. */
function digitsEnd(text: string, start: number): number {
  let end = text.length;
  const isSpace = (at: number) => /\s/.test(text.charAt(at));
  while (end > start && isSpace(end - 1)) end--;
  for (let pads = 0; pads < 2 && end > start && text.charAt(end - 1) === '='; pads++) {
    end--;
    while (end > start && isSpace(end - 1)) end--;
  }
  return end;
}

/**
 * Strict base64 (standard or URL-safe alphabet, not mixed; padding optional and only at the end;
 * whitespace ignored; a `data:` URL prefix accepted), checked and decoded one slice at a time.
 */
export async function decodeBase64(text: string, field: string): Promise<Uint8Array> {
  const invalid = () => new ValidationFailedError([{ field, message: 'is not valid base64' }]);
  const start = /^data:[^,]{0,256};base64,/i.exec(text)?.[0].length ?? 0;
  const end = digitsEnd(text, start);
  const decoded: Buffer[] = [];
  let carry = ''; // digits past the last whole group of four, decoded with the next slice
  let standard = false;
  let urlSafe = false;
  for (let at = start; at < end; at += BASE64_SLICE_CHARS) {
    if (at > start) await yieldToEventLoop();
    let slice = carry + text.slice(at, Math.min(end, at + BASE64_SLICE_CHARS));
    // One pass in the usual case: a slice of one alphabet with no whitespace.
    let alphabet = base64Alphabet(slice);
    if (alphabet === undefined) {
      slice = slice.replace(/\s+/g, '');
      alphabet = base64Alphabet(slice);
      if (alphabet === undefined) throw invalid();
    }
    standard ||= alphabet === 'standard';
    urlSafe ||= alphabet === 'url-safe';
    const whole = slice.length - (slice.length % 4);
    decoded.push(Buffer.from(slice.slice(0, whole), 'base64'));
    carry = slice.slice(whole);
  }
  if (standard && urlSafe) throw invalid();
  if (carry.length === 1) throw invalid(); // one digit carries 6 bits: no byte ends there
  if (carry.length > 0) decoded.push(Buffer.from(carry, 'base64'));
  const bytes = Buffer.concat(decoded);
  if (bytes.length === 0) throw new ValidationFailedError([{ field, message: 'is empty' }]);
  return bytes;
}

/** A raw vector taken back after validation: the schema's `number[]`, checked here. */
function detachedVector(value: unknown, field: string): number[] {
  if (!Array.isArray(value) || !value.every((x) => typeof x === 'number'))
    throw new ValidationFailedError([{ field, message: 'must be an array of numbers' }]);
  return value;
}

/**
 * The request's `query` as service terms. The union was validated by tsoa: each term has one key. Large
 * payloads lifted out of the body before validation are taken back from `detached`, by their path.
 */
export async function toQueryTerms(
  query: QueryText | QueryTerms,
  detached?: DetachedPayloads,
): Promise<QueryTerm[]> {
  if (typeof query === 'string') return [{ kind: 'text', text: query, weight: 1, field: 'query' }];
  const terms: QueryTerm[] = [];
  for (const [i, term] of query.entries()) {
    const field = `query[${i}]`;
    const weight = term.weight ?? 1;
    if ('text' in term) terms.push({ kind: 'text', text: term.text, weight, field });
    else if ('imageBase64' in term) {
      const lifted = detached?.take(`${field}.imageBase64`);
      const text = typeof lifted === 'string' ? lifted : term.imageBase64;
      terms.push({ kind: 'image', image: await decodeBase64(text, `${field}.imageBase64`), weight, field });
    } else if ('imageUrl' in term) terms.push({ kind: 'imageUrl', url: term.imageUrl, weight, field });
    else if ('itemId' in term) terms.push({ kind: 'item', itemId: term.itemId, weight, field });
    else {
      const lifted = detached?.take(`${field}.vector`);
      const vector = lifted === undefined ? term.vector : detachedVector(lifted, `${field}.vector`);
      terms.push({ kind: 'vector', vector, weight, field });
    }
  }
  return terms;
}

/** The API's filter is the port's MetadataFilter, structurally, once its size is checked. */
export function toMetadataFilter(filter: MetadataFilterBody): MetadataFilter {
  const violation = filterViolation(filter);
  if (violation !== undefined) {
    const [field, message] = violation;
    throw new ValidationFailedError([
      { field: field === '' ? 'filter' : childPath('filter', field), message },
    ]);
  }
  return filter;
}

export function toSearchResponse(
  outcome: { hits: readonly SearchHit[]; tookMs: number; queryTruncated: boolean },
  include: readonly IncludeField[] = ALL_INCLUDES,
): SearchResponse {
  const wanted = new Set(include);
  const results = outcome.hits.map(({ score, item }): SearchResult => {
    const result: SearchResult = {
      id: item.id,
      uri: item.uri,
      score,
      width: item.width,
      height: item.height,
    };
    if (wanted.has('metadata')) result.metadata = item.metadata;
    if (wanted.has('imageUrl')) result.imageUrl = imagePath(item.id);
    if (wanted.has('thumbnailUrl')) result.thumbnailUrl = thumbnailPath(item.id);
    return result;
  });
  return { results, tookMs: outcome.tookMs, queryTruncated: outcome.queryTruncated };
}

export function toItem(item: ItemRecord): Item {
  return {
    id: item.id,
    uri: item.uri,
    contentHash: item.contentHash,
    width: item.width,
    height: item.height,
    modelId: item.modelId,
    ingestedAt: item.ingestedAt,
    metadata: item.metadata,
    imageUrl: imagePath(item.id),
    thumbnailUrl: thumbnailPath(item.id),
  };
}

export function toIngestJob(job: IngestJobStatus): IngestJob {
  return {
    id: job.id,
    source: job.source,
    state: job.state,
    total: job.total,
    processed: job.processed,
    skipped: job.skipped,
    failed: job.failed,
    removed: job.removed,
    errors: job.errors.map(({ uri, reason }) => ({ uri, reason })),
    ...(job.error === undefined ? {} : { error: job.error }),
    createdAt: job.createdAt,
    ...(job.startedAt === undefined ? {} : { startedAt: job.startedAt }),
    ...(job.finishedAt === undefined ? {} : { finishedAt: job.finishedAt }),
  };
}
