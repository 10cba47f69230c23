import type { AppConfig } from '@clip-search/config';
import { dataPaths } from '@clip-search/config';
import type { StoreIdentity, VectorStore } from '@clip-search/contracts';
import type { Logger } from '@clip-search/platform';

/** The sections of the configuration a VectorStore is opened from. `AppConfig` has them all. */
export type VectorStoreSelection = Pick<AppConfig, 'vectorStore' | 'dataDir' | 'storeCheckTimeoutMs'>;

/**
 * The VectorStore the configuration asks for (`VECTOR_STORE`), holding `identity`'s vectors: the embedded
 * store under DATA_DIR, or the collection of the model in Milvus. Each adapter is loaded only when chosen:
 * a gateway on Milvus never loads hnswlib, nor needs it for its store.
 */
export async function openVectorStore(
  config: VectorStoreSelection,
  identity: StoreIdentity,
  logger: Logger,
): Promise<VectorStore> {
  const settings = config.vectorStore;
  switch (settings.kind) {
    case 'embedded': {
      const { openEmbeddedVectorStore } = await import('@clip-search/store-embedded');
      return openEmbeddedVectorStore({
        dir: dataPaths(config.dataDir).vectors,
        ...identity,
        checkTimeoutMs: config.storeCheckTimeoutMs,
        logger,
      });
    }
    case 'milvus': {
      const { openMilvusVectorStore } = await import('@clip-search/store-milvus');
      return openMilvusVectorStore({
        address: settings.address,
        ...(settings.token === undefined ? {} : { token: settings.token }),
        ...(settings.database === undefined ? {} : { database: settings.database }),
        collectionPrefix: settings.collectionPrefix,
        ...identity,
        logger,
      });
    }
  }
}
