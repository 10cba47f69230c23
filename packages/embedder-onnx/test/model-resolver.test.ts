import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ClipTokenizer } from '@clip-search/clip';
import { OnnxInferenceBackend } from '../src/onnx-inference-backend';
import { ModelLoadError } from '@clip-search/contracts';
import { createDownloadProgress } from '@clip-search/clip';
import { DEFAULT_MODEL_NAME, MODEL_CATALOG, type CatalogModel } from '@clip-search/clip';
import { sha256File } from '@clip-search/clip';
import { readModelManifest } from '@clip-search/clip';
import { resolveModel, type ResolveModelOptions } from '@clip-search/clip';
import { TINY_CLIP_DIR } from '@clip-search/clip/testing';
import { LocalHub } from '@clip-search/clip/testing';

const REPO = 'test-org/tiny-clip';
const REVISION = '0123456789abcdef0123456789abcdef01234567';
const VISION = path.join(TINY_CLIP_DIR, 'vision.onnx');
const TEXT = path.join(TINY_CLIP_DIR, 'text.onnx');
const HUB_FILES = { 'onnx/vision_model.onnx': VISION, 'onnx/text_model.onnx': TEXT };

let visionSha: string;
let textSha: string;
let visionSize: number;
let textSize: number;
let tmp: string;

/** tiny-clip presented as a catalog model living on a hub. */
function catalogEntry(overrides: Partial<Pick<CatalogModel, 'vision' | 'text' | 'name'>> = {}): CatalogModel {
  return {
    name: 'tiny-clip-hub',
    description: 'tiny-clip served by a local hub',
    repo: REPO,
    revision: REVISION,
    vision: { repoPath: 'onnx/vision_model.onnx', sha256: visionSha, size: visionSize },
    text: { repoPath: 'onnx/text_model.onnx', sha256: textSha, size: textSize },
    manifest: {
      name: 'tiny-clip',
      dim: 512,
      image: {
        file: 'vision_model.onnx',
        input: 'pixel_values',
        output: 'image_embeds',
        size: 224,
        mean: [0.48145466, 0.4578275, 0.40821073],
        std: [0.26862954, 0.26130258, 0.27577711],
      },
      text: {
        file: 'text_model.onnx',
        input: 'input_ids',
        output: 'text_embeds',
        contextLength: 77,
        padId: 0,
      },
    },
    ...overrides,
  };
}

async function freshCache(): Promise<string> {
  return mkdtemp(path.join(tmp, 'cache-'));
}

function collectingLog() {
  const lines: string[] = [];
  return { lines, log: (m: string) => lines.push(m) };
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'clip-resolver-'));
  [visionSha, textSha] = await Promise.all([sha256File(VISION), sha256File(TEXT)]);
  [visionSize, textSize] = await Promise.all([stat(VISION), stat(TEXT)]).then((s) => s.map((x) => x.size));
  // The fixture's own manifest vouches for these digests.
  const { manifest } = await readModelManifest(TINY_CLIP_DIR);
  expect([visionSha, textSha]).toEqual([manifest.sha256['vision.onnx'], manifest.sha256['text.onnx']]);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('the built-in catalog', () => {
  test('the default is a real CLIP ViT-B/32 export pinned to a commit with SHA-256 digests', () => {
    const entry = MODEL_CATALOG.find((m) => m.name === DEFAULT_MODEL_NAME)!;
    expect(entry.repo).toBe('Xenova/clip-vit-base-patch32');
    expect(entry.revision).toMatch(/^[0-9a-f]{40}$/);
    for (const file of [entry.vision, entry.text]) expect(file.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(entry.manifest).toMatchObject({ dim: 512, image: { size: 224 }, text: { contextLength: 77 } });
  });
});

describe('resolveModel with a local model folder (CLIP_MODEL_DIR)', () => {
  test('uses the folder as is, with the bundled merges when it has none', async () => {
    const model = await resolveModel({ modelDir: TINY_CLIP_DIR, modelName: 'ignored', modelCacheDir: tmp });
    expect(model.dir).toBe(TINY_CLIP_DIR);
    expect(model.visionPath).toBe(VISION);
    expect(model.textPath).toBe(TEXT);
    expect(model.bpePath).toBe(ClipTokenizer.bundledBpePath);
    expect(model.manifest.name).toBe('tiny-clip');
  });

  test("uses the folder's own merges when present", async () => {
    const dir = path.join(tmp, 'with-bpe');
    await cp(TINY_CLIP_DIR, dir, { recursive: true });
    await copyFile(ClipTokenizer.bundledBpePath, path.join(dir, 'bpe_simple_vocab_16e6.txt.gz'));
    const model = await resolveModel({ modelDir: dir, modelName: 'x', modelCacheDir: tmp });
    expect(model.bpePath).toBe(path.join(dir, 'bpe_simple_vocab_16e6.txt.gz'));
  });

  test('a missing folder, or one missing a file, is a ModelLoadError saying what a folder needs', async () => {
    const missing = path.join(tmp, 'nope');
    await expect(resolveModel({ modelDir: missing, modelName: 'x', modelCacheDir: tmp })).rejects.toThrow(
      new RegExp(`${missing} does not exist[\\s\\S]*model\\.json[\\s\\S]*vision ONNX`),
    );
    const partial = path.join(tmp, 'partial');
    await cp(TINY_CLIP_DIR, partial, { recursive: true });
    await rm(path.join(partial, 'text.onnx'));
    const error = await resolveModel({ modelDir: partial, modelName: 'x', modelCacheDir: tmp }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toContain(`${path.join(partial, 'text.onnx')} (text.file)`);
  });
});

describe('resolveModel downloading a catalog model (a local hub on 127.0.0.1)', () => {
  let hub: LocalHub;

  beforeEach(async () => {
    hub = new LocalHub({ repo: REPO, revision: REVISION, files: HUB_FILES });
    await hub.start();
  });
  afterEach(async () => {
    await hub.stop();
  });

  function options(extra: Partial<ResolveModelOptions> = {}): ResolveModelOptions {
    return { hubEndpoint: hub.endpoint, catalog: [catalogEntry()], progress: 'none', ...extra };
  }

  test('downloads, verifies, writes model.json; the next start downloads nothing', async () => {
    const cache = await freshCache();
    const { lines, log } = collectingLog();
    const model = await resolveModel(
      { modelDir: undefined, modelName: 'tiny-clip-hub', modelCacheDir: cache },
      options({ progress: createDownloadProgress('log', log), log }),
    );
    const dir = path.join(cache, 'tiny-clip-hub');
    expect(model.dir).toBe(dir);
    expect(await sha256File(model.visionPath)).toBe(visionSha);
    expect(await sha256File(model.textPath)).toBe(textSha);
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'text_model.onnx', 'vision_model.onnx']);
    const written = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(written).toMatchObject({
      name: 'tiny-clip',
      sha256: { 'vision_model.onnx': visionSha, 'text_model.onnx': textSha },
      source: { repo: REPO, revision: REVISION },
    });
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Downloading tiny-clip-hub\/vision_model\.onnx of 0\.6 MB$/),
        expect.stringMatching(/^Downloaded tiny-clip-hub\/text_model\.onnx: 6\.2 MB$/),
      ]),
    );
    expect(hub.requests.map((r) => r.url)).toEqual([
      `/${REPO}/resolve/${REVISION}/onnx/vision_model.onnx`,
      '/lfs/onnx%2Fvision_model.onnx',
      `/${REPO}/resolve/${REVISION}/onnx/text_model.onnx`,
      '/lfs/onnx%2Ftext_model.onnx',
    ]);

    // The downloaded folder is a working model.
    const backend = await OnnxInferenceBackend.load(model, { threads: 1, maxBatchSize: 2 });
    await backend.close();

    hub.requests.length = 0;
    const again = await resolveModel(
      { modelDir: undefined, modelName: 'tiny-clip-hub', modelCacheDir: cache },
      options(),
    );
    expect(again).toEqual(model);
    expect(hub.requests).toEqual([]);
  });

  test('an interrupted download resumes with a Range request and verifies the whole file', async () => {
    const cache = await freshCache();
    hub.dropNextAfterBytes = 200_000;
    const config = { modelDir: undefined, modelName: 'tiny-clip-hub', modelCacheDir: cache };
    const error = await resolveModel(config, options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    const part = path.join(cache, 'tiny-clip-hub', 'vision_model.onnx.part');
    // What arrived before the connection dropped is kept (not necessarily every byte the server sent).
    const kept = (await stat(part)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(200_000);

    const model = await resolveModel(config, options());
    expect(await sha256File(model.visionPath)).toBe(visionSha);
    expect(await exists(part)).toBe(false);
    expect(hub.requests.filter((r) => r.url.startsWith('/lfs/onnx%2Fvision')).map((r) => r.range)).toEqual([
      undefined,
      `bytes=${kept}-`,
    ]);
  });

  test('a checksum mismatch is a clear ModelLoadError and leaves no file behind', async () => {
    const cache = await freshCache();
    const wrong = 'f'.repeat(64);
    const error = await resolveModel(
      { modelDir: undefined, modelName: 'tiny-clip-hub', modelCacheDir: cache },
      options({ catalog: [catalogEntry({ text: { repoPath: 'onnx/text_model.onnx', sha256: wrong } })] }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    const message = (error as Error).message;
    expect(message).toContain('did not verify');
    expect(message).toContain(`SHA-256 mismatch: expected ${wrong}, got ${textSha}`);
    expect(message).toContain(`${hub.endpoint}/${REPO}/resolve/${REVISION}/onnx/text_model.onnx`);
    // The vision file verified and stays; nothing unverified, and no model.json, is left.
    expect((await readdir(path.join(cache, 'tiny-clip-hub'))).sort()).toEqual(['vision_model.onnx']);
  });

  test('an unreachable hub says which file and URL failed, where it goes, and how to use CLIP_MODEL_DIR', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => {
      closed.close(() => {
        resolve();
      });
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const cache = await freshCache();

    const error = await resolveModel(
      { modelDir: undefined, modelName: 'tiny-clip-hub', modelCacheDir: cache },
      options({ hubEndpoint: endpoint }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    const message = (error as Error).message;
    const dir = path.join(cache, 'tiny-clip-hub');
    expect(message).toContain('file onnx/vision_model.onnx');
    expect(message).toContain(`URL:   ${endpoint}/${REPO}/resolve/${REVISION}/onnx/vision_model.onnx`);
    expect(message).toMatch(/ECONNREFUSED/);
    expect(message).toContain(`cache: ${path.join(dir, 'vision_model.onnx')}`);
    expect(message).toContain('set CLIP_MODEL_DIR to a local model folder');
    expect(message).toMatch(/model\.json.*"context_length"/s);
    expect(message).toContain('HF_ENDPOINT');
    expect(await readdir(dir)).toEqual([]);
  });

  test('an HTTP error names the status', async () => {
    const cache = await freshCache();
    const error = await resolveModel(
      { modelDir: undefined, modelName: 'tiny-clip-hub', modelCacheDir: cache },
      options({
        catalog: [catalogEntry({ vision: { repoPath: 'onnx/missing.onnx', sha256: visionSha } })],
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toMatch(/file onnx\/missing\.onnx[\s\S]*error: HTTP 404 Not Found/);
  });

  test('files put in the cache folder by hand are verified and used without downloading', async () => {
    const cache = await freshCache();
    const dir = path.join(cache, 'tiny-clip-hub');
    await mkdir(dir, { recursive: true });
    await copyFile(VISION, path.join(dir, 'vision_model.onnx'));
    await copyFile(TEXT, path.join(dir, 'text_model.onnx'));
    const model = await resolveModel(
      { modelDir: undefined, modelName: 'tiny-clip-hub', modelCacheDir: cache },
      options(),
    );
    expect(model.manifest.sha256).toEqual({ 'vision_model.onnx': visionSha, 'text_model.onnx': textSha });
    expect(hub.requests).toEqual([]);
  });

  test('a cached file that does not verify is downloaded again', async () => {
    const cache = await freshCache();
    const dir = path.join(cache, 'tiny-clip-hub');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'vision_model.onnx'), 'corrupt');
    const { lines, log } = collectingLog();
    const model = await resolveModel(
      { modelDir: undefined, modelName: 'tiny-clip-hub', modelCacheDir: cache },
      options({ log }),
    );
    expect(await sha256File(model.visionPath)).toBe(visionSha);
    expect(lines.join('\n')).toContain('does not match its SHA-256');
  });

  describe('digests not pinned in the catalog come from the hub LFS metadata', () => {
    const unpinned = () =>
      catalogEntry({
        vision: { repoPath: 'onnx/vision_model.onnx' },
        text: { repoPath: 'onnx/text_model.onnx' },
      });

    test('and are verified against', async () => {
      await hub.stop();
      hub = new LocalHub({
        repo: REPO,
        revision: REVISION,
        files: HUB_FILES,
        lfs: {
          'onnx/vision_model.onnx': { sha256: visionSha, size: visionSize },
          'onnx/text_model.onnx': { sha256: textSha, size: textSize },
        },
      });
      await hub.start();
      const cache = await freshCache();
      const model = await resolveModel(
        { modelDir: undefined, modelName: 'tiny-clip-hub', modelCacheDir: cache },
        options({ catalog: [unpinned()] }),
      );
      expect(model.manifest.sha256).toEqual({ 'vision_model.onnx': visionSha, 'text_model.onnx': textSha });
      expect(hub.requests[0]!.url).toBe(`/api/models/${REPO}/revision/${REVISION}?blobs=true`);
      expect(hub.requests.filter((r) => r.url.startsWith('/api/'))).toHaveLength(1);
    });

    test('a file the metadata does not list cannot be verified, so it is not used', async () => {
      const cache = await freshCache();
      const error = await resolveModel(
        { modelDir: undefined, modelName: 'tiny-clip-hub', modelCacheDir: cache },
        options({ catalog: [unpinned()] }),
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelLoadError);
      expect((error as Error).message).toMatch(/no LFS digest for onnx\/vision_model\.onnx/);
    });
  });

  test('an unknown model name lists the known ones', async () => {
    await expect(
      resolveModel({ modelDir: undefined, modelName: 'clip-giant', modelCacheDir: tmp }, options()),
    ).rejects.toThrow(/Unknown model 'clip-giant'.*Known models: tiny-clip-hub/s);
  });
});
