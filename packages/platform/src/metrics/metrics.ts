import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Latency buckets in seconds, from a cached text query (~1 ms) to a large batch on CPU (~10 s). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Every Prometheus metric the services export, on one registry per process (not prom-client's global
 * one, so tests can build several apps side by side). Injected wherever something is measured.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route template, method and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly embeddingDuration = new Histogram({
    name: 'clip_embedding_duration_seconds',
    help: 'Model inference time of one batch, by modality (image|text) and backend (onnx|triton).',
    labelNames: ['modality', 'backend'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly embeddingBatchSize = new Histogram({
    name: 'clip_embedding_batch_size',
    help: 'Items per model call after micro-batching, by modality.',
    labelNames: ['modality'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });

  readonly preprocessDuration = new Histogram({
    name: 'clip_image_preprocess_duration_seconds',
    help: 'Decode + resize + normalize time of one image.',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly searchDuration = new Histogram({
    name: 'vector_search_duration_seconds',
    help: 'Vector store search time, by store (embedded|milvus).',
    labelNames: ['store'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly items = new Gauge({
    name: 'vector_store_items',
    help: 'Items in the vector store.',
    registers: [this.registry],
  });

  readonly ingestedItems = new Counter({
    name: 'ingest_items_total',
    help: 'Items handled by ingestion, by outcome (indexed|skipped|failed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(options: { readonly defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }
}
