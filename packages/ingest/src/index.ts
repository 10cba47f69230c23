// The public surface of @clip-search/ingest.
export * from './ingest-pipeline';
export * from './ingest-request';
export * from './source-resolver';
