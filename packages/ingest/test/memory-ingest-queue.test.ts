import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Embedder } from '@clip-search/contracts';
import {
  BackendUnavailableError,
  ForbiddenSourceError,
  InvalidInputError,
  InvalidSourceError,
  itemIdForUri,
} from '@clip-search/contracts';
import { MemoryVectorStore, scanAll } from '@clip-search/contracts/testing';
import { openTinyEmbedder } from '@clip-search/embedder-onnx/testing';
import { IngestPipeline } from '../src/ingest-pipeline';
import { SourceResolver } from '../src/source-resolver';
import { DEMO_PHOTOS_DIR, GatedEmbedder, writeGeneratedImages } from '../src/testing/ingest-test-kit';
import { MemoryIngestQueue } from '../src/testing/memory-ingest-queue';

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
let corpus: string;
let embedder: GatedEmbedder;
let store: MemoryVectorStore;
const queues: MemoryIngestQueue[] = [];

beforeEach(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'memory-ingest-queue-')));
  corpus = path.join(tmp, 'corpus');
  fs.mkdirSync(corpus);
  embedder = new GatedEmbedder(realEmbedder);
  store = new MemoryVectorStore({ dim: embedder.info.dim, modelId: embedder.info.id });
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

function openQueue(options: QueueOptions = {}): MemoryIngestQueue {
  const queue = new MemoryIngestQueue({
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

describe('MemoryIngestQueue with the real pipeline and embedder', () => {
  test('ingests a folder with corrupt files mixed in: one failed item each, the rest stored', async () => {
    const good = await writeGeneratedImages(corpus, SMALL_CORPUS);
    const bad = writeCorruptFiles(corpus);
    fs.writeFileSync(path.join(corpus, 'NOTICE.md'), 'not an image');
    const queue = openQueue();

    const queued = await queue.enqueue({ source: uriOf(corpus), metadata: { album: 'generated' } });
    expect(queued.state).toMatch(/queued|active/);
    expect(queued.source).toBe(`${uriOf(corpus)}/`);
    expect(Date.parse(queued.createdAt)).not.toBeNaN();
    const done = (await queue.whenSettled(queued.id))!;

    expect(done).toMatchObject({
      id: queued.id,
      source: `${uriOf(corpus)}/`,
      state: 'completed',
      total: good.length + bad.length,
      processed: good.length + bad.length,
      skipped: 0,
      failed: bad.length,
      removed: 0,
      createdAt: queued.createdAt,
    });
    expect(done.createdAt <= done.startedAt!).toBe(true);
    expect(done.startedAt! <= done.finishedAt!).toBe(true);
    expect(done.error).toBeUndefined();
    expect(done.errors.map((e) => e.uri).sort()).toEqual(bad.map(uriOf).sort());
    for (const error of done.errors) expect(error.reason.length).toBeGreaterThan(5);
    expect(done.errors.find((e) => e.uri.endsWith('empty.png'))!.reason).toMatch(/empty/i);
    expect(await queue.get(queued.id)).toEqual(done);

    expect(await store.count()).toBe(good.length);
    const records = await store.get(good.map(idOf));
    for (const [i, file] of good.entries()) {
      const stat = fs.statSync(file);
      expect(records[i]).toMatchObject({
        id: idOf(file),
        uri: uriOf(file),
        contentHash: `${stat.size}-${Math.trunc(stat.mtimeMs)}`,
        // writeGeneratedImages' sizes.
        width: 24 + (i % 7),
        height: 16 + (i % 5),
        modelId: embedder.info.id,
        metadata: {
          album: 'generated',
          folder: path.dirname(path.relative(corpus, file)),
          filename: path.basename(file),
        },
      });
    }
    expect(await store.count({ folder: 'set1' })).toBe(good.filter((f) => f.includes('/set1/')).length);
  });

  test('re-ingest skips unchanged files without embedding them; a modified file is re-indexed', async () => {
    const good = await writeGeneratedImages(corpus, SMALL_CORPUS);
    const queue = openQueue();
    const first = (await queue.whenSettled((await queue.enqueue({ source: uriOf(corpus) })).id))!;
    expect(first).toMatchObject({ state: 'completed', total: good.length, skipped: 0, failed: 0 });
    expect(embedder.images).toBe(good.length);
    const before = await store.get(good.map(idOf));

    embedder.images = 0;
    const second = (await queue.whenSettled((await queue.enqueue({ source: uriOf(corpus) })).id))!;
    expect(second).toMatchObject({ state: 'completed', total: good.length, skipped: good.length, failed: 0 });
    expect(embedder.images).toBe(0);
    expect(await store.get(good.map(idOf))).toEqual(before);

    // Replace one image by a demo photo (another size), with a later mtime.
    const changed = good[0]!;
    fs.copyFileSync(path.join(DEMO_PHOTOS_DIR, 'horse.png'), changed);
    const later = new Date(Math.floor(Date.now() / 1000) * 1000 + 60_000);
    fs.utimesSync(changed, later, later);
    embedder.images = 0;
    const third = (await queue.whenSettled((await queue.enqueue({ source: uriOf(corpus) })).id))!;
    expect(third).toMatchObject({ state: 'completed', skipped: good.length - 1, failed: 0 });
    expect(embedder.images).toBe(1);
    const [record] = await store.get([idOf(changed)]);
    expect(record!.contentHash).toBe(`${fs.statSync(changed).size}-${later.getTime()}`);
    expect(record!.width).not.toBe(before[0]!.width);
    expect(await store.count()).toBe(good.length);
  });

  test('sweep removes the items of deleted files, and only under the swept folder', async () => {
    const photos = await writeGeneratedImages(corpus, SMALL_CORPUS);
    // A sibling folder whose name extends the corpus's must survive the corpus's sweep.
    const sibling = `${corpus}2`;
    fs.mkdirSync(sibling);
    fs.copyFileSync(path.join(DEMO_PHOTOS_DIR, 'horse.png'), path.join(sibling, 'horse.png'));
    const queue = openQueue({ roots: [corpus, sibling] });
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

  test('a bad request or a source that is not allowed is the caller’s error and creates no job', async () => {
    const queue = openQueue();
    const outside = path.join(tmp, 'outside');
    fs.mkdirSync(outside);
    await expect(queue.enqueue({ source: uriOf(outside) })).rejects.toBeInstanceOf(ForbiddenSourceError);
    await expect(queue.enqueue({ source: 's3://bucket/x' })).rejects.toBeInstanceOf(InvalidSourceError);
    await expect(queue.enqueue({ source: uriOf(path.join(corpus, 'nope')) })).rejects.toThrow(
      /no such folder/,
    );
    await expect(queue.enqueue({ source: '  ' })).rejects.toBeInstanceOf(InvalidSourceError);
    await expect(queue.enqueue({} as never)).rejects.toBeInstanceOf(InvalidSourceError);
    const source = uriOf(corpus);
    await expect(queue.enqueue({ source, sweep: 'yes' as never })).rejects.toThrow(
      new InvalidInputError('`sweep` must be a boolean'),
    );
    await expect(queue.enqueue({ source, metadata: [] as never })).rejects.toThrow(
      new InvalidInputError('`metadata` must be an object'),
    );
    await expect(queue.enqueue({ source, metadata: { big: 'x'.repeat(5000) } })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect(await queue.list()).toEqual([]);
  });

  test('cancel stops an active job (keeping what it stored) and a queued one before it starts', async () => {
    await writeGeneratedImages(corpus, SMALL_CORPUS);
    const other = path.join(corpus, 'set1');
    const queue = openQueue({ batchSize: 2, batchesInFlight: 1 });
    const blocked = embedder.hold();
    const active = await queue.enqueue({ source: uriOf(corpus) });
    const waiting = await queue.enqueue({ source: uriOf(other) });
    const third = await queue.enqueue({ source: uriOf(other), metadata: { n: 3 } });
    await blocked;
    expect((await queue.get(active.id))!.state).toBe('active');
    expect((await queue.get(waiting.id))!.state).toBe('queued');

    const cancelledWaiting = (await queue.cancel(waiting.id))!;
    expect(cancelledWaiting.state).toBe('cancelled');
    expect(cancelledWaiting.finishedAt).toBeDefined();
    expect(await queue.whenSettled(waiting.id)).toEqual(cancelledWaiting);
    const cancelling = await queue.cancel(active.id);
    expect(cancelling!.state).toBe('cancelled');
    embedder.release();
    const stopped = (await queue.whenSettled(active.id))!;
    expect(stopped.state).toBe('cancelled');
    expect(stopped.finishedAt).toBe(cancelling!.finishedAt);
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
    expect(await queue.whenSettled('no-such-job')).toBeUndefined();
  });

  test('jobs run one at a time in submission order; list is newest first; duplicates while queued merge', async () => {
    await writeGeneratedImages(corpus, SMALL_CORPUS);
    const queue = openQueue();
    const blocked = embedder.hold();
    const a = await queue.enqueue({ source: uriOf(corpus) });
    await blocked;
    const b = await queue.enqueue({ source: uriOf(path.join(corpus, 'set1')) });
    const c = await queue.enqueue({ source: `${uriOf(corpus)}/` });
    // The same request once canonical (a trailing slash, spaces) is the job already waiting.
    expect(await queue.enqueue({ source: ` ${uriOf(path.join(corpus, 'set1'))}/ ` })).toMatchObject({
      id: b.id,
    });
    // Another request on the same source is another job.
    const d = await queue.enqueue({ source: uriOf(path.join(corpus, 'set1')), sweep: true });
    expect(d.id).not.toBe(b.id);
    expect((await queue.list()).map((j) => j.id)).toEqual([d.id, c.id, b.id, a.id]);
    expect((await queue.list({ limit: 1 })).map((j) => j.id)).toEqual([d.id]);
    expect((await queue.list({ limit: 0 })).map((j) => j.id)).toEqual([d.id]);
    expect((await queue.list({ limit: 2.7 })).map((j) => j.id)).toEqual([d.id, c.id]);
    expect((await queue.get(b.id))!.state).toBe('queued');
    expect((await queue.get(b.id))!.startedAt).toBeUndefined();
    embedder.release();
    const done = await Promise.all([a, b, c, d].map((job) => queue.whenSettled(job.id)));
    expect(done.map((job) => job!.state)).toEqual(['completed', 'completed', 'completed', 'completed']);
    for (let i = 1; i < done.length; i++) expect(done[i - 1]!.finishedAt! <= done[i]!.startedAt!).toBe(true);
    expect(done[2]!.skipped).toBe(done[2]!.total);
  });

  test('close() stops the active job once its batch in flight is stored, then refuses every call', async () => {
    await writeGeneratedImages(corpus, SMALL_CORPUS);
    const queue = openQueue({ batchSize: 2, batchesInFlight: 1 });
    // Two batches go through, the third is held: close() comes while it is in flight.
    const blocked = embedder.hold(4);
    const job = await queue.enqueue({ source: uriOf(corpus) });
    const next = await queue.enqueue({ source: uriOf(path.join(corpus, 'set1')) });
    const settled = queue.whenSettled(job.id).catch((error: unknown) => error);
    await blocked;
    const closing = queue.close();
    embedder.release();
    await closing;
    // Once close() resolved, the batch in flight was stored and nothing after it was started.
    expect(await store.count()).toBe(6);
    expect(embedder.images).toBe(6);
    expect(await settled).toBeInstanceOf(BackendUnavailableError);
    await expect(queue.get(job.id)).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(queue.list()).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(queue.cancel(next.id)).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(queue.whenSettled(next.id)).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(queue.enqueue({ source: uriOf(corpus) })).rejects.toBeInstanceOf(BackendUnavailableError);
    await queue.close();
  });

  test('a job whose folder vanished before it ran fails with the reason; the queue goes on', async () => {
    await writeGeneratedImages(corpus, SMALL_CORPUS);
    const doomed = path.join(corpus, 'doomed');
    fs.mkdirSync(doomed);
    fs.copyFileSync(path.join(DEMO_PHOTOS_DIR, 'moon.png'), path.join(doomed, 'moon.png'));
    const queue = openQueue();
    const blocked = embedder.hold();
    const first = await queue.enqueue({ source: uriOf(path.join(corpus, 'set1')) });
    await blocked;
    const second = await queue.enqueue({ source: uriOf(doomed) });
    const third = await queue.enqueue({ source: uriOf(corpus) });
    fs.rmSync(doomed, { recursive: true });
    embedder.release();
    expect((await queue.whenSettled(first.id))!.state).toBe('completed');
    const failed = (await queue.whenSettled(second.id))!;
    expect(failed).toMatchObject({ state: 'failed', total: 0, processed: 0 });
    expect(failed.error).toMatch(/no such folder/);
    expect(failed.startedAt).toBeDefined();
    expect(failed.finishedAt).toBeDefined();
    expect((await queue.whenSettled(third.id))!.state).toBe('completed');
  });

  test('progress is visible while a job runs', async () => {
    await writeGeneratedImages(corpus, SMALL_CORPUS);
    const queue = openQueue({ batchSize: 2, batchesInFlight: 1 });
    const blocked = embedder.hold(6);
    const job = await queue.enqueue({ source: uriOf(corpus) });
    await blocked;
    // Three batches are stored and counted; the fourth is held in the embedder.
    expect(await queue.get(job.id)).toMatchObject({ state: 'active', processed: 6, skipped: 0 });
    expect((await queue.get(job.id))!.total).toBeGreaterThanOrEqual(8);
    expect((await queue.list())[0]).toMatchObject({ id: job.id, processed: 6 });
    embedder.release();
    expect(await queue.whenSettled(job.id)).toMatchObject({
      state: 'completed',
      processed: SMALL_CORPUS,
    });
    expect((await scanAll(store, 5)).length).toBe(SMALL_CORPUS);
  });
});
