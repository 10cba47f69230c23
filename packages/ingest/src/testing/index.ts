// @clip-search/ingest/testing: helpers for tests of this package and of its dependants.
export * from './ingest-test-kit';
export * from './memory-ingest-queue';
