import { dataPaths } from '@clip-search/config';
import { IngestPipeline, SourceResolver } from '@clip-search/ingest';
import { EmbeddedIngestQueue } from '@clip-search/queue-embedded';
import type { BackendContext, Backends } from './backend-gate';
import { createEmbedder } from './create-embedder';
import { openVectorStore } from './create-vector-store';

/**
 * Embedded mode: the embedder EMBEDDER asks for (ONNX Runtime in this process, or Triton over gRPC), the
 * vector store VECTOR_STORE asks for (on disk under DATA_DIR, or Milvus) and the in-process ingest queue
 * under DATA_DIR. Whatever opened is closed again when a later step fails.
 */
export async function openEmbeddedBackends({ config, logger, metrics }: BackendContext): Promise<Backends> {
  const paths = dataPaths(config.dataDir);
  const embedder = await createEmbedder(config, {
    metrics,
    logger,
    progress: 'auto',
    log: (message) => {
      logger.info(message);
    },
  });
  try {
    const { id: modelId, dim } = embedder.info;
    const store = await openVectorStore(config, { dim, modelId }, logger);
    try {
      const queue = await EmbeddedIngestQueue.open({
        dataDir: paths.jobs,
        pipeline: new IngestPipeline({ embedder, store, logger, metrics }),
        sources: SourceResolver.localFolders(config.ingest.roots),
        logger,
      });
      return {
        embedder,
        store,
        queue,
        embedderBackend: config.inference.kind,
        storeKind: config.vectorStore.kind,
        close: async () => {
          await queue.close();
          await store.close();
          await embedder.close();
        },
      };
    } catch (error) {
      await store.close();
      throw error;
    }
  } catch (error) {
    await embedder.close();
    throw error;
  }
}
