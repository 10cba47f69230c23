// @clip-search/clip/testing: helpers for tests of this package and of its dependants.
export * from './golden-fixtures';
export * from './inference-backend-conformance';
export * from './local-hub';
export * from './onnx-graph-patch';
