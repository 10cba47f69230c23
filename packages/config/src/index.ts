// The public surface of @clip-search/config.
export * from './api-keys';
export * from './config-table';
export * from './config';
export * from './data-paths';
