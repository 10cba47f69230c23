// @clip-search/clip/model: resolving a model's contract (manifest and tokenizer merges) without loading an
// image library, for callers that only tokenize (the CLI's `tokenize` starts in a fraction of the time).
export * from './model-contract';
export * from './model-catalog';
