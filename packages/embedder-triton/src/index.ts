// The public surface of @clip-search/embedder-triton.
export * from './concurrency-limit';
export * from './create-triton-embedder';
export * from './kserve-client';
export * from './retry';
export * from './tensor-bytes';
export * from './triton-config';
export * from './triton-errors';
export * from './triton-inference-backend';
export * from './triton-model-contract';
