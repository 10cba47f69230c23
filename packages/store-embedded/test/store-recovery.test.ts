import fs from 'node:fs';
import { join } from 'node:path';

import { BackendUnavailableError, InvalidInputError } from '@clip-search/contracts';
import { createLogger } from '@clip-search/platform';
import { DamagedStoreError } from '../src/damaged-store-error';
import { openEmbeddedVectorStore, STORE_FILE } from '../src/embedded-vector-store';
import { checkEmbeddedStore, recoverEmbeddedStore } from '../src/store-recovery';
import type { VectorItem } from '@clip-search/contracts';
import { damageLeafPages } from '../src/testing/damaged-store';
import { makeItem, MODEL_ID, temporaryDir, unitVectors } from '@clip-search/contracts/testing';

// Each open of an existing store runs quick_check in a child process: allow for a busy machine.
jest.setTimeout(120_000);

const DIM = 64;
const COUNT = 3_000;
const PAGE = 4096;

function items(count = COUNT): VectorItem[] {
  return unitVectors(count, DIM, 7).map((vector, i) =>
    makeItem(`item-${String(i).padStart(5, '0')}`, vector, { metadata: { n: i, folder: `f${i % 10}` } }),
  );
}

async function buildStore(dir: string, content: readonly VectorItem[]): Promise<void> {
  const store = await openEmbeddedVectorStore({ dir, dim: DIM, modelId: MODEL_ID });
  await store.upsert(content);
  await store.close();
}

/** Overwrites the file's first page (the header and the schema) with garbage. */
function damageHeader(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, Buffer.alloc(PAGE, 0xa5), 0, PAGE, 0);
  } finally {
    fs.closeSync(fd);
  }
}

describe('a damaged embedded store', () => {
  let tmp: ReturnType<typeof temporaryDir>;
  beforeEach(() => {
    tmp = temporaryDir('store-recovery-');
  });
  afterEach(() => {
    tmp.remove();
  });

  test('refuses to open, and recovery salvages every readable item into a store that opens', async () => {
    const original = items();
    await buildStore(tmp.dir, original);
    const file = join(tmp.dir, STORE_FILE);
    const damagedPages = damageLeafPages(file, 'items', 8);

    const refused = openEmbeddedVectorStore({ dir: tmp.dir, dim: DIM, modelId: MODEL_ID });
    await expect(refused).rejects.toThrow(DamagedStoreError);
    await expect(refused).rejects.toThrow(`vector store file ${file} is damaged (Tree`);
    await expect(refused).rejects.toThrow(`clip-search store recover --store ${tmp.dir}`);
    const { check } = await checkEmbeddedStore(tmp.dir);
    expect(check.state).toBe('damaged');

    const report = recoverEmbeddedStore(tmp.dir, { now: new Date('2026-01-02T03:04:05.678Z') });
    expect(report.damagedFile).toBe(`${file}.damaged-2026-01-02T03-04-05-678Z`);
    expect(fs.existsSync(report.damagedFile)).toBe(true);
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    // Items are ~400 bytes, several to a page: the rows of the damaged pages are lost, no others.
    expect(report.recovered).toBeGreaterThan(COUNT - damagedPages.length * 20);
    expect(report.recovered).toBeLessThan(COUNT);
    expect(report.invalid).toBe(0);
    expect((await checkEmbeddedStore(tmp.dir)).check.state).toBe('ok');

    const store = await openEmbeddedVectorStore({ dir: tmp.dir, dim: DIM, modelId: MODEL_ID });
    try {
      expect(await store.count()).toBe(report.recovered);
      expect(await store.checkIntegrity()).toEqual({
        items: report.recovered,
        indexed: report.recovered,
        missing: 0,
        mismatched: 0,
      });
      // Every item salvaged is the item written, vector and metadata included; filters still work.
      const byId = new Map(original.map((item) => [item.id, item]));
      const salvaged = await store.get(original.map((item) => item.id));
      const present = salvaged.filter((item) => item !== undefined);
      expect(present).toHaveLength(report.recovered);
      for (const item of present) {
        const { vector, ...record } = byId.get(item.id) as VectorItem;
        expect(item).toEqual(record);
        expect(await store.getVector(item.id)).toEqual(vector);
      }
      const survivor = present[0] as (typeof present)[number];
      const [hit] = await store.search({
        vector: byId.get(survivor.id)?.vector as Float32Array,
        k: 1,
        filter: { folder: survivor.metadata.folder as string },
      });
      expect(hit?.item.id).toBe(survivor.id);
    } finally {
      await store.close();
    }
  });

  test('damage to an index, which opening does not read, is refused too; recovery loses nothing', async () => {
    const original = items();
    await buildStore(tmp.dir, original);
    damageLeafPages(join(tmp.dir, STORE_FILE), 'sqlite_autoindex_items_1', 3);
    await expect(openEmbeddedVectorStore({ dir: tmp.dir, dim: DIM, modelId: MODEL_ID })).rejects.toThrow(
      DamagedStoreError,
    );
    const report = recoverEmbeddedStore(tmp.dir);
    expect(report).toMatchObject({ recovered: COUNT, expected: COUNT, unreadable: 0, invalid: 0 });
    const store = await openEmbeddedVectorStore({ dir: tmp.dir, dim: DIM, modelId: MODEL_ID });
    expect((await store.get(original.map((item) => item.id))).every((item) => item !== undefined)).toBe(true);
    await store.close();
  });

  test('a store whose header is garbage is refused as damaged; recovery needs the model, then starts empty', async () => {
    await buildStore(tmp.dir, items(200));
    damageHeader(join(tmp.dir, STORE_FILE));
    await expect(openEmbeddedVectorStore({ dir: tmp.dir, dim: DIM, modelId: MODEL_ID })).rejects.toThrow(
      DamagedStoreError,
    );
    expect(() => recoverEmbeddedStore(tmp.dir)).toThrow(InvalidInputError);
    const report = recoverEmbeddedStore(tmp.dir, { modelId: MODEL_ID, dim: DIM });
    expect(report.recovered).toBe(0);
    const store = await openEmbeddedVectorStore({ dir: tmp.dir, dim: DIM, modelId: MODEL_ID });
    expect(await store.count()).toBe(0);
    await store.close();
  });

  test('writes that only reached the WAL (a crash) are salvaged, and no WAL is left beside the new store', async () => {
    const content = items(500);
    const store = await openEmbeddedVectorStore({ dir: tmp.dir, dim: DIM, modelId: MODEL_ID });
    const crashed = temporaryDir('store-crash-image-');
    try {
      await store.upsert(content);
      // The files as a kill -9 would leave them: the last commits are in store.db-wal only.
      for (const name of fs.readdirSync(tmp.dir).filter((n) => n.startsWith(STORE_FILE))) {
        fs.copyFileSync(join(tmp.dir, name), join(crashed.dir, name));
      }
      expect(fs.existsSync(join(crashed.dir, `${STORE_FILE}-wal`))).toBe(true);
      const report = recoverEmbeddedStore(crashed.dir);
      expect(report.recovered).toBe(content.length);
      expect(fs.existsSync(join(crashed.dir, `${STORE_FILE}-wal`))).toBe(false);
      const reopened = await openEmbeddedVectorStore({ dir: crashed.dir, dim: DIM, modelId: MODEL_ID });
      expect(await reopened.count()).toBe(content.length);
      await reopened.close();
    } finally {
      await store.close();
      crashed.remove();
    }
  });

  test('a store open elsewhere is neither checked nor recovered', async () => {
    const store = await openEmbeddedVectorStore({ dir: tmp.dir, dim: DIM, modelId: MODEL_ID });
    try {
      await store.upsert(items(10));
      expect((await checkEmbeddedStore(tmp.dir)).check.state).toBe('busy');
      expect(() => recoverEmbeddedStore(tmp.dir)).toThrow(BackendUnavailableError);
      expect(fs.readdirSync(tmp.dir).filter((n) => n.includes('damaged'))).toEqual([]);
    } finally {
      await store.close();
    }
  });

  test('a check that runs out of time is logged and the store opens', async () => {
    await buildStore(tmp.dir, items(100));
    const logger = createLogger({ level: 'debug', format: 'json', service: 'test' });
    for (const transport of logger.transports) transport.silent = true;
    const logs: Record<string, unknown>[] = [];
    logger.on('data', (entry: Record<string, unknown>) => logs.push(entry));
    const store = await openEmbeddedVectorStore({
      dir: tmp.dir,
      dim: DIM,
      modelId: MODEL_ID,
      checkTimeoutMs: 1,
      logger,
    });
    expect(await store.count()).toBe(100);
    await store.close();
    expect(logs.map((entry) => entry.message)).toContain(
      'vector store check ran out of time; opening the store unchecked',
    );
  });
});
