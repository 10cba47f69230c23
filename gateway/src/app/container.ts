import { createEmbedder } from './create-embedder';
import { dataPaths, type AppConfig } from '@clip-search/config';
import { createLogger, Metrics, type Logger } from '@clip-search/platform';
import { EmbeddedIngestQueue } from '@clip-search/queue-embedded';
import { IngestPipeline, SourceResolver } from '@clip-search/ingest';
import { openEmbeddedVectorStore } from '@clip-search/store-embedded';
import { ImageUrlFetcher } from '../image-url/image-url-fetcher';
import { IngestService } from '../services/ingest-service';
import { ItemService } from '../services/item-service';
import { OriginalImages } from '../services/original-image';
import { SearchService } from '../services/search-service';
import { StatusService } from '../services/status-service';
import { ThumbnailService } from '../services/thumbnail-service';
import { BackendGate, type Backends } from './backend-gate';

/** The services the controllers call. */
export interface GatewayServices {
  readonly search: SearchService;
  readonly items: ItemService;
  readonly thumbnails: ThumbnailService;
  readonly ingest: IngestService;
  readonly status: StatusService;
}

/** Everything one gateway instance is made of, built once by `createContainer`. */
export interface GatewayContainer {
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly backends: BackendGate;
  readonly services: GatewayServices;
  /** Closes the backends (queue, then store, then embedder). The HTTP server is the caller's. */
  close(): Promise<void>;
}

export interface BackendContext {
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export interface ContainerOptions {
  readonly logger?: Logger;
  /** Tests pass `new Metrics({ defaultMetrics: false })` to keep several apps in one process apart. */
  readonly metrics?: Metrics;
  /** Opens the model, store and queue; default: embedded mode (see `openEmbeddedBackends`). */
  readonly openBackends?: (context: BackendContext) => Promise<Backends>;
  readonly imageUrlFetcher?: ImageUrlFetcher;
}

/**
 * Embedded mode: the embedder EMBEDDER asks for (ONNX Runtime in this process, or Triton over gRPC), the
 * on-disk vector store and the in-process ingest queue, all under DATA_DIR. Whatever opened is closed
 * again when a later step fails.
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
    const store = await openEmbeddedVectorStore({
      dir: paths.vectors,
      dim,
      modelId,
      checkTimeoutMs: config.storeCheckTimeoutMs,
      logger,
    });
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
        storeKind: 'embedded',
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

/**
 * The composition root: config → logger → metrics → backends (opened in the background, see
 * BackendGate) → services. Nothing else in the gateway constructs a service or a backend.
 */
export function createContainer(config: AppConfig, options: ContainerOptions = {}): GatewayContainer {
  const logger =
    options.logger ??
    createLogger({ level: config.log.level, format: config.log.format, service: 'gateway' });
  const metrics = options.metrics ?? new Metrics();
  const open = options.openBackends ?? openEmbeddedBackends;
  const backends = new BackendGate(() => open({ config, logger, metrics }));
  const imageUrlFetcher =
    options.imageUrlFetcher ??
    new ImageUrlFetcher({
      allowPrivate: config.imageUrl.allowPrivate,
      timeoutMs: config.imageUrl.timeoutMs,
      maxBytes: config.imageUrl.maxBytes,
      maxInflightBytes: config.imageUrl.maxInflightBytes,
    });
  const originals = new OriginalImages({ allowedRoots: config.ingest.roots, logger });
  const thumbnails = new ThumbnailService({
    cacheDir: dataPaths(config.dataDir).thumbnails,
    maxPixels: config.embedder.maxImagePixels,
    originals,
    logger,
  });
  const services: GatewayServices = {
    search: new SearchService({
      backends,
      metrics,
      imageUrlFetcher,
      maxImageUrls: config.imageUrl.maxPerRequest,
    }),
    items: new ItemService(backends, thumbnails, originals),
    thumbnails,
    ingest: new IngestService(backends),
    status: new StatusService(backends),
  };
  return { config, logger, metrics, backends, services, close: () => backends.close() };
}
