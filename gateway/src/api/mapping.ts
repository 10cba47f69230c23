import type { IngestJobStatus, ItemRecord, SearchHit } from '@clip-search/core';
import { ValidationFailedError } from '../http/http-errors';
import type { QueryTerm } from '../services/search-service';
import type { Item } from './item-models';
import type { IngestJob } from './ingest-models';
import type { IncludeField, QueryTerms, QueryText, SearchResponse, SearchResult } from './search-models';

/** Where an item's bytes are served; relative, so they work behind any proxy or prefix-less host. */
export const imagePath = (id: string): string => `/v1/items/${encodeURIComponent(id)}/image`;
export const thumbnailPath = (id: string): string => `/v1/items/${encodeURIComponent(id)}/thumbnail`;

export const ALL_INCLUDES: readonly IncludeField[] = ['metadata', 'imageUrl', 'thumbnailUrl'];

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$|^[A-Za-z0-9_-]*={0,2}$/;

/** Strict base64 (standard or URL-safe alphabet, padding optional, whitespace ignored, data: URL accepted). */
export function decodeBase64(text: string, field: string): Uint8Array {
  const payload = text.replace(/^data:[^,]*;base64,/i, '').replace(/\s+/g, '');
  if (payload.length === 0) throw new ValidationFailedError([{ field, message: 'is empty' }]);
  if (!BASE64.test(payload) || payload.replace(/=+$/, '').length % 4 === 1)
    throw new ValidationFailedError([{ field, message: 'is not valid base64' }]);
  return Buffer.from(payload, payload.includes('-') || payload.includes('_') ? 'base64url' : 'base64');
}

/** The request's `query` as service terms. The union was validated by tsoa: each term has one key. */
export function toQueryTerms(query: QueryText | QueryTerms): QueryTerm[] {
  if (typeof query === 'string') return [{ kind: 'text', text: query, weight: 1, field: 'query' }];
  return query.map((term, i): QueryTerm => {
    const field = `query[${i}]`;
    const weight = term.weight ?? 1;
    if ('text' in term) return { kind: 'text', text: term.text, weight, field };
    if ('imageBase64' in term)
      return { kind: 'image', image: decodeBase64(term.imageBase64, `${field}.imageBase64`), weight, field };
    if ('imageUrl' in term) return { kind: 'imageUrl', url: term.imageUrl, weight, field };
    if ('itemId' in term) return { kind: 'item', itemId: term.itemId, weight, field };
    return { kind: 'vector', vector: term.vector, weight, field };
  });
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
