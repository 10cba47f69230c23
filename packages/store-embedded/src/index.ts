// The public surface of @clip-search/store-embedded.
export * from './ann-index';
export * from './damaged-store-error';
export * from './embedded-vector-store';
export * from './index-snapshot';
export * from './item-table';
export * from './metadata-fields';
export * from './scoring';
export * from './store-recovery';
