// The public surface of @clip-search/sqlite.
export * from './durable-sqlite';
export * from './sqlite-check';
