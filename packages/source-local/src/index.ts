// The public surface of @clip-search/source-local.
export * from './confined-file';
export * from './local-folder-source';
