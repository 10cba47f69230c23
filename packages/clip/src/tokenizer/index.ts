// @clip-search/clip/tokenizer: the tokenizer alone, for callers that must not load an image library
// (the CLI's `tokenize` starts in a fraction of the time the whole package takes).
export * from './clip-tokenizer';
