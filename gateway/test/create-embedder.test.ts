import path from 'node:path';
import { loadConfig } from '@clip-search/config';
import { createEmbedder } from '../src/app/create-embedder';
import type { ClipEmbedder } from '@clip-search/clip';
import { KServeFixtureServer } from '@clip-search/kserve-fixture';
import { tinyClip } from '@clip-search/clip/testing';

const TINY = path.resolve(__dirname, '../../fixtures/models/tiny-clip');
const PHOTO = path.resolve(__dirname, '../../demo/photos/chelsea.png');

/** `EMBEDDER` picks the backend; everything above it (and so every embedding) stays the same. */
describe('createEmbedder selects the backend from the configuration', () => {
  let fixture: KServeFixtureServer;
  const opened: ClipEmbedder[] = [];

  beforeAll(async () => {
    const model = await tinyClip();
    fixture = await KServeFixtureServer.start({
      models: [
        { name: 'clip_vision', onnx: model.visionPath, maxBatchSize: 8 },
        { name: 'clip_text', onnx: model.textPath, maxBatchSize: 8 },
      ],
    });
  });

  afterAll(async () => {
    await Promise.all(opened.map((e) => e.close()));
    await fixture.close();
  });

  async function open(env: NodeJS.ProcessEnv): Promise<ClipEmbedder> {
    const embedder = await createEmbedder(loadConfig({ CLIP_MODEL_DIR: TINY, ...env }));
    opened.push(embedder);
    return embedder;
  }

  test('EMBEDDER=onnx and EMBEDDER=triton give the same embeddings through the same ClipEmbedder', async () => {
    const onnx = await open({ EMBEDDER: 'onnx' });
    const triton = await open({ EMBEDDER: 'triton', TRITON_URL: fixture.url });
    expect(onnx.backend.kind).toBe('onnx');
    expect(triton.backend.kind).toBe('triton');
    expect(triton.info).toEqual(onnx.info);

    const [a] = await onnx.embedTexts(['a photo of a cat']);
    const [b] = await triton.embedTexts(['a photo of a cat']);
    const [c] = await onnx.embedImages([{ path: PHOTO }]);
    const [d] = await triton.embedImages([{ path: PHOTO }]);
    if (a === undefined || b === undefined || c?.ok !== true || d?.ok !== true)
      throw new Error('missing results');
    for (let i = 0; i < a.embedding.length; i++) {
      expect(Math.abs((a.embedding[i] ?? 0) - (b.embedding[i] ?? 0))).toBeLessThan(1e-5);
      expect(Math.abs((c.embedding[i] ?? 0) - (d.embedding[i] ?? 0))).toBeLessThan(1e-5);
    }
  });

  test('an unreachable Triton fails at start with a clear error', async () => {
    await expect(
      open({ EMBEDDER: 'triton', TRITON_URL: '127.0.0.1:1', TRITON_CONNECT_TIMEOUT_MS: '1000' }),
    ).rejects.toThrow(/127\.0\.0\.1:1|Triton/);
  });
});
