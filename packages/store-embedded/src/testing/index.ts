// @clip-search/store-embedded/testing: helpers for tests of this package and of its dependants.
export * from './damaged-store';
export * from './test-store';
