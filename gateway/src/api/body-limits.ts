import type { Request } from 'express';
import type { JsonBodyRule } from '../http/body-parsers';
import type { DetachRule } from '../http/detached-payloads';
import type { JsonShapeLimits } from '../http/json-shape';

/**
 * What a JSON body may be, per route, checked while it is read and right after it is parsed — before
 * schema validation. The numbers follow the schema (search-models.ts): they are the loosest limits that
 * every valid request meets, so they never refuse what validation would accept.
 */

/** A text term is at most 10,000 characters; URIs and ids are shorter. */
const MAX_STRING_CHARS = 16 * 1024;

/** Request bodies without images: an ingest request, its metadata included. */
export const SMALL_BODY_BYTES = 256 * 1024;

/**
 * Search: at most 16 terms, a vector term at most 4,096 numbers, `in` at most 1,000 values. The deepest
 * valid path is `query[i].vector[j]` or `filter.field.in[j]`: four levels below the body.
 */
const SEARCH_SHAPE: JsonShapeLimits = {
  maxDepth: 5,
  maxValues: 16 * 4096 + 4096,
  maxArrayItems: 4096,
  maxObjectKeys: 64,
  maxStringChars: MAX_STRING_CHARS,
  longStringKeys: new Set(['imageBase64']),
};

/** Search payloads validated where they are taken back (mapping.ts), not by the schema's unions. */
const SEARCH_DETACH: readonly DetachRule[] = [
  { key: 'imageBase64', minLength: 64 * 1024, placeholder: () => '' },
  { key: 'vector', minLength: 64, placeholder: () => [0] },
];

/** Every other JSON body (ingest): metadata may nest a little (metadata-limits in @clip-search/contracts). */
const DEFAULT_SHAPE: JsonShapeLimits = {
  maxDepth: 8,
  maxValues: 4096,
  maxArrayItems: 1024,
  maxObjectKeys: 64,
  maxStringChars: MAX_STRING_CHARS,
};

/** Search bodies may carry base64 images up to MAX_BODY_BYTES; every other body is small. */
export function jsonBodyRules(maxBodyBytes: number): (req: Request) => JsonBodyRule {
  const search: JsonBodyRule = {
    detach: SEARCH_DETACH,
    maxBytes: maxBodyBytes,
    maxBytesSetting: 'MAX_BODY_BYTES',
    shape: SEARCH_SHAPE,
  };
  const other: JsonBodyRule = { maxBytes: Math.min(SMALL_BODY_BYTES, maxBodyBytes), shape: DEFAULT_SHAPE };
  return (req) => (req.path === '/v1/search' ? search : other);
}
