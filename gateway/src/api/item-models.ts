import type { JsonObject } from './search-models';

export interface Item {
  id: string;
  uri: string;
  /** Changes when the source changes (size+mtime for files). */
  contentHash: string;
  width: number;
  height: number;
  /** The embedder model the vector comes from. */
  modelId: string;
  /** ISO 8601. */
  ingestedAt: string;
  metadata: JsonObject;
  imageUrl: string;
  thumbnailUrl: string;
}
