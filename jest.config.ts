/** @jest-config-loader esbuild-register */
import type { Config } from 'jest';

// One Jest run for the whole workspace; TypeScript is compiled by SWC (type checking is `pnpm typecheck`).
const config: Config = {
  testEnvironment: 'node',
  roots: [
    '<rootDir>/packages',
    '<rootDir>/cli',
    '<rootDir>/gateway',
    '<rootDir>/ingest-worker',
    '<rootDir>/protos',
    '<rootDir>/triton-model-repo',
  ],
  testMatch: ['**/test/**/*.test.ts'],
  // Workspace packages resolve to their TypeScript sources (the "source" export condition), so tests
  // never run a stale dist/. Imports written with .js (ESM-style dynamic imports) find the .ts file.
  testEnvironmentOptions: { customExportConditions: ['source', 'node', 'node-addons'] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
  // Node's own typed arrays in every test realm (onnxruntime-node's tensors; see the file).
  setupFiles: ['<rootDir>/jest/node-realm-typed-arrays.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: false },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  moduleFileExtensions: ['ts', 'js', 'json', 'node'],
  testTimeout: 30_000,
  // Tests share two cores with ONNX Runtime's own threads: run files two at a time.
  maxWorkers: 2,
};

export default config;
