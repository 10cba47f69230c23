/**
 * The VectorStore conformance suite on the embedded store, twice: as configured by default (stores of up
 * to 2,048 items, hence every small case, are searched exactly; the 20,000-vector corpus through HNSW),
 * and with every search that can go through HNSW sent there (filters included, whose candidates the item
 * table then checks by another SQL shape; a smaller efConstruction shortens its 20,000-vector build). A
 * restart is closing the store and opening its directory again.
 */
import { join } from 'node:path';

import type { StoreIdentity, VectorStore } from '@clip-search/contracts';
import {
  temporaryDir,
  vectorStoreConformance,
  type VectorStoreSubject,
} from '@clip-search/contracts/testing';
import { type EmbeddedVectorStoreOptions, openEmbeddedVectorStore } from '../src';

function embeddedSubject(label: string, tuning: Partial<EmbeddedVectorStoreOptions>): VectorStoreSubject {
  let tmp: ReturnType<typeof temporaryDir> | undefined;
  let opened = 0;
  const dirs = new WeakMap<VectorStore, string>();
  const openAt = async (dir: string, identity: StoreIdentity): Promise<VectorStore> => {
    const store = await openEmbeddedVectorStore({ ...tuning, dir, ...identity });
    dirs.set(store, dir);
    return store;
  };
  const dirOf = (store: VectorStore): string => {
    const dir = dirs.get(store);
    if (dir === undefined) throw new Error('not a store of this subject');
    return dir;
  };
  return {
    label,
    open: (identity: StoreIdentity) => {
      tmp ??= temporaryDir('store-conformance-');
      return openAt(join(tmp.dir, `store-${++opened}`), identity);
    },
    reopen: (store: VectorStore, identity: StoreIdentity) => openAt(dirOf(store), identity),
    restart: async (store: VectorStore) => {
      await store.close();
      return openAt(dirOf(store), { dim: store.dim, modelId: store.modelId });
    },
    cleanup: () => {
      tmp?.remove();
      return Promise.resolve();
    },
  };
}

vectorStoreConformance(embeddedSubject('embedded store (SQLite + HNSW)', {}));
vectorStoreConformance(
  embeddedSubject('embedded store, every search through HNSW', {
    exactSearchMaxCandidates: 1,
    expansionAdd: 64,
  }),
);
