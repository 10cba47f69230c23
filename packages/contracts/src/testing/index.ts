// @clip-search/contracts/testing: helpers for tests of this package and of its dependants.
export * from './flat-png';
export * from './memory-vector-store';
export * from './random-vectors';
export * from './store-fixtures';
export * from './vector-store-conformance';
