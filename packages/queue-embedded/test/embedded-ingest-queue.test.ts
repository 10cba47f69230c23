import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import type { Embedder } from '@clip-search/contracts';
import { BackendUnavailableError, ForbiddenSourceError, InvalidSourceError } from '@clip-search/contracts';
import { EmbeddedIngestQueue } from '../src/embedded-ingest-queue';
import { IngestPipeline } from '@clip-search/ingest';
import { SourceResolver } from '@clip-search/ingest';
import { itemIdForUri } from '@clip-search/contracts';
import type { VectorStore } from '@clip-search/contracts';
import { scanAll } from '@clip-search/contracts/testing';
import {
  DEMO_PHOTOS_DIR,
  demoImageNames,
  GatedEmbedder,
  writeGeneratedImages,
} from '@clip-search/ingest/testing';
import { openStore } from '@clip-search/store-embedded/testing';
import { openTinyEmbedder } from '@clip-search/embedder-onnx/testing';

jest.setTimeout(90_000);

/** Small generated PNGs (fast to decode) for the tests about the queue's mechanics. */
const SMALL_CORPUS = 16;

let realEmbedder: Embedder;
beforeAll(async () => {
  realEmbedder = await openTinyEmbedder();
});
afterAll(async () => {
  await realEmbedder.close();
});

let tmp: string;
let dataDir: string;
let corpus: string;
let embedder: GatedEmbedder;
let store: VectorStore;
const queues: EmbeddedIngestQueue[] = [];

beforeEach(async () => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-queue-')));
  dataDir = path.join(tmp, 'data');
  corpus = path.join(tmp, 'corpus');
  fs.mkdirSync(corpus);
  embedder = new GatedEmbedder(realEmbedder);
  store = await openStore(dataDir, embedder);
});

afterEach(async () => {
  embedder.release();
  for (const queue of queues.splice(0)) await queue.close();
  await store.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface QueueOptions {
  readonly roots?: readonly string[];
  readonly batchSize?: number;
  readonly batchesInFlight?: number;
}

async function openQueue(options: QueueOptions = {}): Promise<EmbeddedIngestQueue> {
  const queue = await EmbeddedIngestQueue.open({
    dataDir,
    pipeline: new IngestPipeline({
      embedder,
      store,
      batchSize: options.batchSize ?? 4,
      ...(options.batchesInFlight === undefined ? {} : { batchesInFlight: options.batchesInFlight }),
    }),
    sources: SourceResolver.localFolders(options.roots ?? [corpus]),
    progressIntervalMs: 0,
  });
  queues.push(queue);
  return queue;
}

const uriOf = (file: string) => pathToFileURL(file).href;
const idOf = (file: string) => itemIdForUri(uriOf(file));

/** Copies the demo photos into `dir` (half of them in a sub-folder); returns the copied paths. */
function copyDemoPhotos(dir: string): string[] {
  return demoImageNames().map((name, i) => {
    const target = i % 2 === 0 ? path.join(dir, name) : path.join(dir, 'more', name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(path.join(DEMO_PHOTOS_DIR, name), target);
    return target;
  });
}

/** A truncated JPEG, text named .jpg, an empty .png: each must fail alone, with a reason. */
function writeCorruptFiles(dir: string): string[] {
  fs.mkdirSync(path.join(dir, 'bad'), { recursive: true });
  const jpeg = fs.readFileSync(path.join(DEMO_PHOTOS_DIR, 'rocket.jpg'));
  const truncated = path.join(dir, 'bad', 'truncated.jpg');
  fs.writeFileSync(truncated, jpeg.subarray(0, Math.floor(jpeg.length / 3)));
  const text = path.join(dir, 'bad', 'text.jpg');
  fs.writeFileSync(text, 'this is not a JPEG, only some text\n');
  const empty = path.join(dir, 'empty.png');
  fs.writeFileSync(empty, '');
  return [truncated, text, empty];
}

async function storedIds(): Promise<string[]> {
  return (await scanAll(store, 7)).map((item) => item.id);
}

describe('EmbeddedIngestQueue with the real embedder and store', () => {
  test('ingests a folder with corrupt files mixed in: one failed item each, the rest searchable', async () => {
    const good = copyDemoPhotos(corpus);
    const bad = writeCorruptFiles(corpus);
    fs.writeFileSync(path.join(corpus, 'NOTICE.md'), 'not an image');
    const queue = await openQueue();

    const queued = await queue.enqueue({ source: uriOf(corpus), metadata: { album: 'demo' } });
    expect(queued.state).toMatch(/queued|active/);
    expect(queued.source).toBe(`${uriOf(corpus)}/`);
    const done = (await queue.whenSettled(queued.id))!;

    expect(done).toMatchObject({
      id: queued.id,
      state: 'completed',
      total: good.length + bad.length,
      processed: good.length + bad.length,
      skipped: 0,
      failed: bad.length,
      removed: 0,
    });
    expect(done.startedAt).toBeDefined();
    expect(done.finishedAt).toBeDefined();
    expect(done.error).toBeUndefined();
    expect(done.errors.map((e) => e.uri).sort()).toEqual(bad.map(uriOf).sort());
    for (const error of done.errors) expect(error.reason.length).toBeGreaterThan(5);
    expect(done.errors.find((e) => e.uri.endsWith('empty.png'))!.reason).toMatch(/empty/i);

    expect(await store.count()).toBe(good.length);
    const records = await store.get(good.map(idOf));
    for (const [i, file] of good.entries()) {
      const record = records[i]!;
      const meta = await sharp(file).metadata();
      const stat = fs.statSync(file);
      expect(record).toMatchObject({
        id: idOf(file),
        uri: uriOf(file),
        contentHash: `${stat.size}-${Math.trunc(stat.mtimeMs)}`,
        width: meta.width,
        height: meta.height,
        modelId: 'tiny-clip',
        metadata: {
          album: 'demo',
          folder: path.dirname(path.relative(corpus, file)).replace(/^\.$/, ''),
          filename: path.basename(file),
        },
      });
      expect(Date.parse(record.ingestedAt)).not.toBeNaN();
    }
    // Searchable: a photo's own embedding finds it first.
    const probe = good[3]!;
    const [embedded] = await realEmbedder.embedImages([fs.readFileSync(probe)]);
    if (!embedded?.ok) throw new Error('probe failed');
    const [hit] = await store.search({ vector: embedded.embedding, k: 1 });
    expect(hit?.item.uri).toBe(uriOf(probe));
    expect(hit?.score).toBeGreaterThan(0.999);
    // The metadata is filterable.
    expect(await store.count({ folder: 'more' })).toBe(good.filter((f) => f.includes('/more/')).length);
  });

  test('re-ingest skips unchanged files without embedding them; a modified file is re-indexed', async () => {
    const good = await writeGeneratedImages(corpus, SMALL_CORPUS);
    const queue = await openQueue();
    const first = (await queue.whenSettled((await queue.enqueue({ source: uriOf(corpus) })).id))!;
    expect(first).toMatchObject({ state: 'completed', total: good.length, skipped: 0, failed: 0 });
    expect(embedder.images).toBe(good.length);
    const before = await store.get(good.map(idOf));

    embedder.images = 0;
    const second = (await queue.whenSettled((await queue.enqueue({ source: uriOf(corpus) })).id))!;
    expect(second).toMatchObject({ state: 'completed', total: good.length, skipped: good.length, failed: 0 });
    expect(embedder.images).toBe(0);
    expect(await store.get(good.map(idOf))).toEqual(before);

    // Replace one photo by another image (another size), with a later mtime.
    const changed = good[0]!;
    fs.copyFileSync(path.join(DEMO_PHOTOS_DIR, 'horse.png'), changed);
    const later = new Date(Math.floor(Date.now() / 1000) * 1000 + 60_000);
    fs.utimesSync(changed, later, later);
    embedder.images = 0;
    const third = (await queue.whenSettled((await queue.enqueue({ source: uriOf(corpus) })).id))!;
    expect(third).toMatchObject({ state: 'completed', skipped: good.length - 1, failed: 0 });
    expect(embedder.images).toBe(1);
    const [record] = await store.get([idOf(changed)]);
    const meta = await sharp(changed).metadata();
    expect(record).toMatchObject({ width: meta.width, height: meta.height });
    expect(record!.contentHash).toBe(`${fs.statSync(changed).size}-${later.getTime()}`);
    expect(await store.count()).toBe(good.length);
  });

  test('sweep removes the items of deleted files, and only under the swept folder', async () => {
    const photos = await writeGeneratedImages(corpus, SMALL_CORPUS);
    // A sibling folder whose name extends the corpus's must survive the corpus's sweep.
    const sibling = `${corpus}2`;
    fs.mkdirSync(sibling);
    fs.copyFileSync(path.join(DEMO_PHOTOS_DIR, 'horse.png'), path.join(sibling, 'horse.png'));
    const queue = await openQueue({ roots: [corpus, sibling] });
    for (const folder of [corpus, sibling])
      await queue.whenSettled((await queue.enqueue({ source: uriOf(folder) })).id);
    expect(await store.count()).toBe(photos.length + 1);

    const deleted = [photos[1]!, photos[2]!];
    for (const file of deleted) fs.rmSync(file);
    // Without `sweep`, deleted files keep their items.
    const kept = (await queue.whenSettled((await queue.enqueue({ source: uriOf(corpus) })).id))!;
    expect(kept.removed).toBe(0);
    expect(await store.count()).toBe(photos.length + 1);

    const swept = (await queue.whenSettled(
      (await queue.enqueue({ source: uriOf(corpus), sweep: true })).id,
    ))!;
    expect(swept).toMatchObject({ state: 'completed', removed: 2, total: photos.length - 2 });
    expect(await store.get(deleted.map(idOf))).toEqual([undefined, undefined]);
    expect(await store.count()).toBe(photos.length - 1);
    expect((await store.get([idOf(path.join(sibling, 'horse.png'))]))[0]).toBeDefined();
  });

  test('a symlink escaping the root is not ingested', async () => {
    const outside = path.join(tmp, 'outside');
    fs.mkdirSync(outside);
    fs.copyFileSync(path.join(DEMO_PHOTOS_DIR, 'moon.png'), path.join(outside, 'moon.png'));
    fs.copyFileSync(path.join(DEMO_PHOTOS_DIR, 'coins.png'), path.join(corpus, 'coins.png'));
    fs.symlinkSync(path.join(outside, 'moon.png'), path.join(corpus, 'moon.png'));
    fs.symlinkSync(outside, path.join(corpus, 'outside-dir'));
    const queue = await openQueue();
    const done = (await queue.whenSettled((await queue.enqueue({ source: uriOf(corpus) })).id))!;
    expect(done).toMatchObject({ state: 'completed', total: 1, failed: 0 });
    expect((await store.scan({ limit: 10 })).items.map((item) => item.uri)).toEqual([
      uriOf(path.join(corpus, 'coins.png')),
    ]);
  });

  test('a source outside the allowed roots is refused with 403 and creates no job', async () => {
    const queue = await openQueue();
    const outside = path.join(tmp, 'outside');
    fs.mkdirSync(outside);
    const error = await queue.enqueue({ source: uriOf(outside) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForbiddenSourceError);
    expect((error as ForbiddenSourceError).status).toBe(403);
    await expect(queue.enqueue({ source: 's3://bucket/x' })).rejects.toBeInstanceOf(InvalidSourceError);
    await expect(queue.enqueue({ source: uriOf(path.join(corpus, 'nope')) })).rejects.toBeInstanceOf(
      InvalidSourceError,
    );
    expect(await queue.list()).toEqual([]);
  });

  test('cancel stops an active job (keeping what it stored) and a queued one before it starts', async () => {
    await writeGeneratedImages(corpus, SMALL_CORPUS);
    const other = path.join(corpus, 'set1');
    const queue = await openQueue({ batchSize: 2, batchesInFlight: 1 });
    const blocked = embedder.hold();
    const active = await queue.enqueue({ source: uriOf(corpus) });
    const waiting = await queue.enqueue({ source: uriOf(other) });
    const third = await queue.enqueue({ source: uriOf(other), metadata: { n: 3 } });
    await blocked;
    expect((await queue.get(active.id))!.state).toBe('active');
    expect((await queue.get(waiting.id))!.state).toBe('queued');

    expect((await queue.cancel(waiting.id))!.state).toBe('cancelled');
    const cancelling = await queue.cancel(active.id);
    expect(cancelling!.state).toBe('cancelled');
    embedder.release();
    const stopped = (await queue.whenSettled(active.id))!;
    expect(stopped.state).toBe('cancelled');
    // The batch in flight when it was cancelled is stored; the listing went no further.
    expect(stopped.processed).toBeLessThan(SMALL_CORPUS);
    expect(await store.count()).toBe(stopped.processed - stopped.failed - stopped.skipped);

    // The queue moves on to the next job; the cancelled queued one never ran.
    expect((await queue.whenSettled(third.id))!.state).toBe('completed');
    const never = (await queue.get(waiting.id))!;
    expect(never).toMatchObject({ state: 'cancelled', processed: 0 });
    expect(never.startedAt).toBeUndefined();
    // Cancelling a finished or unknown job changes nothing.
    expect((await queue.cancel(third.id))!.state).toBe('completed');
    expect(await queue.cancel('no-such-job')).toBeUndefined();
    expect(await queue.get('no-such-job')).toBeUndefined();
  });

  test('jobs run one at a time in submission order; list is newest first; duplicates while queued merge', async () => {
    await writeGeneratedImages(corpus, SMALL_CORPUS);
    const queue = await openQueue();
    const blocked = embedder.hold();
    const a = await queue.enqueue({ source: uriOf(corpus) });
    await blocked;
    const b = await queue.enqueue({ source: uriOf(path.join(corpus, 'set1')) });
    const c = await queue.enqueue({ source: `${uriOf(corpus)}/` });
    expect(await queue.enqueue({ source: uriOf(path.join(corpus, 'set1')) })).toMatchObject({ id: b.id });
    expect((await queue.list()).map((j) => j.id)).toEqual([c.id, b.id, a.id]);
    expect((await queue.list({ limit: 1 })).map((j) => j.id)).toEqual([c.id]);
    expect((await queue.get(b.id))!.state).toBe('queued');
    embedder.release();
    const [doneA, doneB, doneC] = await Promise.all([a, b, c].map((job) => queue.whenSettled(job.id)));
    expect([doneA!.state, doneB!.state, doneC!.state]).toEqual(['completed', 'completed', 'completed']);
    expect(doneA!.finishedAt! <= doneB!.startedAt!).toBe(true);
    expect(doneB!.finishedAt! <= doneC!.startedAt!).toBe(true);
    expect(doneC!.skipped).toBe(doneC!.total);
  });

  test('close() leaves the active job to be resumed by the next open, without re-embedding stored items', async () => {
    const photos = await writeGeneratedImages(corpus, SMALL_CORPUS);
    let queue = await openQueue({ batchSize: 2, batchesInFlight: 1 });
    // Two batches go through, the third is held: close() comes while it is in flight.
    const blocked = embedder.hold(4);
    const job = await queue.enqueue({ source: uriOf(corpus) });
    await blocked;
    const closing = queue.close();
    embedder.release();
    await closing;
    // The batch in flight was still stored; nothing after it was started.
    const storedBefore = await store.count();
    expect(storedBefore).toBe(6);
    await expect(queue.get(job.id)).rejects.toBeInstanceOf(BackendUnavailableError);

    embedder.images = 0;
    queue = await openQueue();
    const resumed = (await queue.whenSettled(job.id))!;
    expect(resumed).toMatchObject({ state: 'completed', total: photos.length, failed: 0 });
    expect(resumed.skipped).toBe(storedBefore);
    expect(embedder.images).toBe(photos.length - storedBefore);
    expect((await storedIds()).sort()).toEqual(photos.map(idOf).sort());
  });

  test('a second queue on the same data dir is refused while the first is open', async () => {
    await openQueue();
    await expect(openQueue()).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  test('a job whose folder vanished before it ran fails with the reason; the queue goes on', async () => {
    await writeGeneratedImages(corpus, SMALL_CORPUS);
    const doomed = path.join(corpus, 'doomed');
    fs.mkdirSync(doomed);
    fs.copyFileSync(path.join(DEMO_PHOTOS_DIR, 'moon.png'), path.join(doomed, 'moon.png'));
    const queue = await openQueue();
    const blocked = embedder.hold();
    const first = await queue.enqueue({ source: uriOf(path.join(corpus, 'set1')) });
    await blocked;
    const second = await queue.enqueue({ source: uriOf(doomed) });
    const third = await queue.enqueue({ source: uriOf(corpus) });
    fs.rmSync(doomed, { recursive: true });
    embedder.release();
    expect((await queue.whenSettled(first.id))!.state).toBe('completed');
    const failed = (await queue.whenSettled(second.id))!;
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/no such folder/);
    expect((await queue.whenSettled(third.id))!.state).toBe('completed');
  });

  test('progress is persisted while a job runs', async () => {
    await writeGeneratedImages(corpus, SMALL_CORPUS);
    const queue = await openQueue({ batchSize: 2, batchesInFlight: 1 });
    const blocked = embedder.hold(6);
    const job = await queue.enqueue({ source: uriOf(corpus) });
    await blocked;
    // Three batches are stored and counted; the fourth is held in the embedder.
    expect(await queue.get(job.id)).toMatchObject({ state: 'active', processed: 6, skipped: 0 });
    expect((await queue.get(job.id))!.total).toBeGreaterThanOrEqual(8);
    embedder.release();
    expect(await queue.whenSettled(job.id)).toMatchObject({
      state: 'completed',
      processed: SMALL_CORPUS,
    });
  });
});
