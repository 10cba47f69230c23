import { createHash } from 'node:crypto';

/** Hex characters kept from the SHA-256: 128 bits, so a collision among billions of URIs is negligible. */
export const ITEM_ID_LENGTH = 32;

/**
 * The id of an ingested item: the first 32 hex characters (128 bits) of the SHA-256 of its canonical
 * source URI (UTF-8). Stable across runs, processes and machines, so re-ingesting (or resuming a crashed
 * ingest) replaces an item instead of duplicating it, and the BullMQ worker computes the same ids.
 */
export function itemIdForUri(uri: string): string {
  return createHash('sha256').update(uri, 'utf8').digest('hex').slice(0, ITEM_ID_LENGTH);
}
