// The public surface of @clip-search/platform.
export * from './config/env-var';
export * from './logging/logger';
export * from './metrics/metrics';
