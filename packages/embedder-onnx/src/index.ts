// The public surface of @clip-search/embedder-onnx.
export * from './create-onnx-embedder';
export * from './onnx-inference-backend';
