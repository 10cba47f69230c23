// The public surface of @clip-search/queue-embedded.
export * from './embedded-ingest-queue';
