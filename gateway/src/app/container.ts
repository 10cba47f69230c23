import { dataPaths, type AppConfig } from '@clip-search/config';
import { createLogger, Metrics, type Logger } from '@clip-search/platform';
import { ImageUrlFetcher } from '../image-url/image-url-fetcher';
import { IngestService } from '../services/ingest-service';
import { ItemService } from '../services/item-service';
import { OriginalImages } from '../services/original-image';
import { SearchService } from '../services/search-service';
import { StatusService } from '../services/status-service';
import { ThumbnailService } from '../services/thumbnail-service';
import { type BackendContext, BackendGate, type Backends } from './backend-gate';

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

export interface ContainerOptions {
  readonly logger?: Logger;
  /** Tests pass `new Metrics({ defaultMetrics: false })` to keep several apps in one process apart. */
  readonly metrics?: Metrics;
  /** Opens the model, store and queue; default: embedded mode (see embedded-backends.ts). */
  readonly openBackends?: (context: BackendContext) => Promise<Backends>;
  readonly imageUrlFetcher?: ImageUrlFetcher;
}

/**
 * Embedded mode, loaded when used: its SQLite and HNSW native modules stay unloaded in a gateway given
 * other backends.
 */
async function openEmbeddedBackends(context: BackendContext): Promise<Backends> {
  const embedded = await import('./embedded-backends.js');
  return embedded.openEmbeddedBackends(context);
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
