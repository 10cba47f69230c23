// The public surface of @clip-search/contracts.
export * from './embedder/attention-mask';
export * from './embedder/embedder-config';
export * from './embedder/embedder';
export * from './embedder/inference-backend';
export * from './errors/clip-search-error';
export * from './image/image-input';
export * from './image/image-limits';
export * from './ingest/ingest-queue';
export * from './ingest/item-id';
export * from './ingest/metadata-limits';
export * from './ingest/object-source';
export * from './model/model-location';
export * from './model/model-manifest';
export * from './vector-store/metadata-filter';
export * from './vector-store/vector-store-rules';
export * from './vector-store/vector-store';
