// The public surface of @clip-search/protos: where the .proto files are, and their typed loader.
export * from './proto-paths';
export * from './kserve-proto';
