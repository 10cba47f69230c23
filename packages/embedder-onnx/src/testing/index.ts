// @clip-search/embedder-onnx/testing: helpers for tests of this package and of its dependants.
export * from './tiny-clip-embedder';
