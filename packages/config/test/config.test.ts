import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, readEnv } from '../src/config';
import { renderConfigTable } from '../src/config-table';
import { ConfigError } from '@clip-search/contracts';

describe('configuration from the environment', () => {
  test('defaults alone run the embedded mode', () => {
    const config = loadConfig({});
    expect(config.inference).toEqual({ kind: 'onnx' });
    expect(config.server.port).toBe(8080);
    expect(config.embedder.modelDir).toBeUndefined();
    expect(path.isAbsolute(config.dataDir)).toBe(true);
    expect(config.ingest.roots).toContain(config.ingest.corpusDir);
  });

  test('the embedder uses every core this process may use and never waits on an idle model', () => {
    const { embedder } = loadConfig({});
    expect(embedder.threads).toBe(os.availableParallelism());
    expect(embedder.maxWaitMs).toBe(0);
    // 0 is still accepted, and means the same as the default rather than ONNX Runtime's own choice.
    expect(loadConfig({ ONNX_THREADS: '0' }).embedder.threads).toBe(os.availableParallelism());
    expect(loadConfig({ ONNX_THREADS: '3', EMBED_MAX_WAIT_MS: '5' }).embedder).toMatchObject({
      threads: 3,
      maxWaitMs: 5,
    });
  });

  test('values are parsed into types', () => {
    const config = loadConfig({
      PORT: '9000',
      EMBED_MAX_BATCH: '32',
      IMAGE_URL_ALLOW_PRIVATE: 'true',
      INGEST_ROOTS: '/a, /b,,',
      CLIP_MODEL_DIR: 'models/x',
    });
    expect(config.server.port).toBe(9000);
    expect(config.embedder.maxBatchSize).toBe(32);
    expect(config.imageUrl.allowPrivate).toBe(true);
    expect(config.ingest.roots).toEqual(expect.arrayContaining(['/a', '/b']));
    expect(config.embedder.modelDir).toBe(path.resolve('models/x'));
  });

  test('every bad variable is listed at once', () => {
    let error: unknown;
    try {
      readEnv({ PORT: 'eighty', EMBED_MAX_BATCH: '0', LOG_LEVEL: 'loud', HF_ENDPOINT: 'ftp://x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'EMBED_MAX_BATCH', 'LOG_LEVEL', 'HF_ENDPOINT'])
      expect(problems).toContain(name);
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  test('triton needs its address', () => {
    expect(() => loadConfig({ EMBEDDER: 'triton' })).toThrow(/TRITON_URL/);
    expect(loadConfig({ EMBEDDER: 'triton', TRITON_URL: 'triton:8001' }).inference).toMatchObject({
      kind: 'triton',
      url: 'triton:8001',
    });
  });

  test('the vector store: embedded by default; Milvus needs its address', () => {
    expect(loadConfig({}).vectorStore).toEqual({ kind: 'embedded' });
    expect(() => loadConfig({ VECTOR_STORE: 'milvus' })).toThrow(/MILVUS_ADDRESS/);
    expect(loadConfig({ VECTOR_STORE: 'milvus', MILVUS_ADDRESS: 'milvus:19530' }).vectorStore).toEqual({
      kind: 'milvus',
      address: 'milvus:19530',
      token: undefined,
      database: undefined,
      collectionPrefix: 'clip_search_',
    });
    expect(() => loadConfig({ MILVUS_COLLECTION_PREFIX: 'clip-search' })).toThrow(/MILVUS_COLLECTION_PREFIX/);
  });

  test('the README documents every variable, as `clip-search config` prints them', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
    const block = /<!-- config:start -->\n([\s\S]*?)<!-- config:end -->/.exec(readme)?.[1];
    // Regenerate with: pnpm clip-search config
    expect(block).toBe(renderConfigTable());
  });
});
