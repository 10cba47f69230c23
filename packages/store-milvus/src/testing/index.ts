// @clip-search/store-milvus/testing: a real Milvus for the tests and benchmarks of this package and of
// its dependants.
export * from './milvus-server';
