// The public surface of @clip-search/core. Apps import from here, never from core's files.
export * from './errors/clip-search-error';
export * from './config/config';
export * from './config/api-keys';
export * from './config/config-table';
export * from './config/data-paths';
export * from './logging/logger';
export * from './metrics/metrics';
export * from './model/model-manifest';
export * from './model/model-location';
export * from './embedder/embedder';
export * from './embedder/embedder-config';
export * from './embedder/inference-backend';
export * from './clip/clip-tokenizer';
export * from './clip/image-preprocessor';
export * from './clip/image-input';
export * from './vector-store/vector-store';
export * from './vector-store/vector-store-rules';
export * from './ingest/ingest-queue';
export * from './ingest/object-source';
export * from './model/model-resolver';
export {
  findCatalogModel,
  MODEL_CATALOG,
  DEFAULT_MODEL_NAME,
  type CatalogModel,
} from './model/model-catalog';
export * from './embedder/clip-embedder';
export * from './embedder/create-onnx-embedder';
export * from './embedder/onnx-inference-backend';
export * from './image/thumbnail';
export * from './vector-store/embedded/embedded-vector-store';
export * from './vector-store/embedded/damaged-store-error';
export * from './vector-store/embedded/store-recovery';
export type { SqliteCheck } from './sqlite/sqlite-check';
export * from './ingest/embedded-ingest-queue';
export * from './ingest/local-folder-source';
export * from './ingest/source-resolver';
export * from './ingest/confined-file';
export * from './ingest/ingest-pipeline';
export * from './ingest/item-id';
export * from './ingest/metadata-limits';
export * from './embedder/triton/triton-config';
export * from './embedder/triton/triton-inference-backend';
export * from './embedder/create-embedder';
export * from './model/model-contract';
