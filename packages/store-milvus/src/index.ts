// The public surface of @clip-search/store-milvus. Listed name by name: the connection, the filter
// compiler and the row encoding are internal modules, not API.
export { collectionNameFor } from './collection-layout';
export {
  type MilvusIndexOptions,
  type MilvusMetric,
  MilvusVectorStore,
  type MilvusVectorStoreOptions,
  openMilvusVectorStore,
} from './milvus-vector-store';
