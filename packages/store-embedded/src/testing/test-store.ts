import path from 'node:path';
import type { Embedder, VectorStore } from '@clip-search/contracts';
import { openEmbeddedVectorStore } from '../embedded-vector-store';

/** The real embedded store in `<dataDir>/store`, for vectors of `embedder`'s model. */
export function openStore(dataDir: string, embedder: Pick<Embedder, 'info'>): Promise<VectorStore> {
  return openEmbeddedVectorStore({
    dir: path.join(dataDir, 'store'),
    dim: embedder.info.dim,
    modelId: embedder.info.id,
  });
}
