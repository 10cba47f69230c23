import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Embedder } from '@clip-search/contracts';
import { BackendUnavailableError } from '@clip-search/contracts';
import { IngestPipeline, type IngestProgress } from '../src/ingest-pipeline';
import { LocalFolderSource } from '@clip-search/source-local';
import type { ObjectSource, SourceListIssue, SourceObject } from '@clip-search/contracts';
import { Metrics } from '@clip-search/platform';
import type { VectorStore } from '@clip-search/contracts';
import { writeGeneratedImages } from '../src/testing/ingest-test-kit';
import { openStore } from '@clip-search/store-embedded/testing';
import { openTinyEmbedder } from '@clip-search/embedder-onnx/testing';

jest.setTimeout(90_000);

let embedder: Embedder;
beforeAll(async () => {
  embedder = await openTinyEmbedder();
});
afterAll(async () => {
  await embedder.close();
});

let tmp: string;
let corpus: string;
let store: VectorStore;
beforeEach(async () => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-pipeline-')));
  corpus = path.join(tmp, 'corpus');
  store = await openStore(path.join(tmp, 'data'), embedder);
});
afterEach(async () => {
  await store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The real folder source, plus one listing issue reported midway (as an unreadable folder would). */
class SourceWithIssue implements ObjectSource {
  constructor(private readonly inner: LocalFolderSource) {}
  async *list(signal?: AbortSignal, onIssue?: (issue: SourceListIssue) => void): AsyncIterable<SourceObject> {
    onIssue?.({ uri: `${this.inner.uri}locked/`, reason: "EACCES: permission denied, opendir 'locked'" });
    yield* this.inner.list(signal, onIssue);
  }
  read(object: SourceObject, signal?: AbortSignal): Promise<Uint8Array> {
    return this.inner.read(object, signal);
  }
}

test('a sweep never runs after an incomplete listing', async () => {
  const files = await writeGeneratedImages(corpus, 6);
  const source = new LocalFolderSource(corpus);
  const pipeline = new IngestPipeline({ embedder, store });
  await pipeline.run({ source, sourceUri: source.uri });
  fs.rmSync(files[0]!);

  const partial = await pipeline.run({
    source: new SourceWithIssue(source),
    sourceUri: source.uri,
    sweep: true,
  });
  expect(partial).toMatchObject({ total: 5, skipped: 5, removed: 0, listed: true });
  expect(partial.errors.map((e) => e.reason)).toEqual([
    expect.stringMatching(/^not listed: EACCES/) as unknown,
    'sweep skipped: part of the source could not be listed',
  ]);
  expect(await store.count()).toBe(6);

  const complete = await pipeline.run({ source, sourceUri: source.uri, sweep: true });
  expect(complete).toMatchObject({ removed: 1, errors: [] });
  expect(await store.count()).toBe(5);
});

test('per-item errors are capped, failures still counted; outcomes reach the metrics', async () => {
  await writeGeneratedImages(corpus, 3);
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(corpus, `broken-${i}.png`), `not a png ${i}`);
  const metrics = new Metrics({ defaultMetrics: false });
  const source = new LocalFolderSource(corpus);
  const progress: IngestProgress[] = [];
  const result = await new IngestPipeline({ embedder, store, metrics, maxErrors: 2, batchSize: 2 }).run({
    source,
    sourceUri: source.uri,
    progressIntervalMs: 0,
    onProgress: (p) => progress.push(p),
  });
  expect(result).toMatchObject({ total: 8, processed: 8, indexed: 3, failed: 5, skipped: 0 });
  expect(result.errors).toHaveLength(2);
  const counter = await metrics.ingestedItems.get();
  const byOutcome: Record<string, number> = {};
  for (const v of counter.values) byOutcome[String(v.labels.outcome)] = v.value;
  expect(byOutcome).toEqual({ indexed: 3, failed: 5 });
  // Progress went forward only, and its last report is the result.
  const processed = progress.map((p) => p.processed);
  expect(processed).toEqual([...processed].sort((a, b) => a - b));
  expect(progress.at(-1)).toEqual(result);
});

test('a failing store fails the run (not each item)', async () => {
  await writeGeneratedImages(corpus, 3);
  const source = new LocalFolderSource(corpus);
  await store.close();
  await expect(
    new IngestPipeline({ embedder, store }).run({ source, sourceUri: source.uri }),
  ).rejects.toBeInstanceOf(BackendUnavailableError);
});

test('an aborted run rejects with the abort reason', async () => {
  await writeGeneratedImages(corpus, 3);
  const source = new LocalFolderSource(corpus);
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  await expect(
    new IngestPipeline({ embedder, store }).run({ source, sourceUri: source.uri, signal: controller.signal }),
  ).rejects.toThrow('stop');
  expect(await store.count()).toBe(0);
});
