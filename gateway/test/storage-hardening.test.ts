import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ConfigError,
  ForbiddenSourceError,
  itemIdForUri,
  type SourceObject,
  type VectorItem,
} from '@clip-search/contracts';
import { dataPaths } from '@clip-search/config';
import {
  DamagedStoreError,
  openEmbeddedVectorStore,
  recoverEmbeddedStore,
} from '@clip-search/store-embedded';
import { resolveFileSource } from '@clip-search/source-local';
import request from 'supertest';
import { damageLeafPages, distinctItems } from '@clip-search/store-embedded/testing';
import { folderUri, makeCorpus, PHOTOS, startTestServer, waitForJob } from './helpers/gateway-harness';

// Each server loads tiny-clip; a store open runs quick_check in a child process: allow for a busy machine.
jest.setTimeout(120_000);

const PROBLEM_NOT_FOUND = 'https://clip-search.dev/problems/not-found';

describe('DATA_DIR is checked before anything opens in it', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'clip-data-dir-'));
    fs.writeFileSync(path.join(tmp, 'a-file'), 'not a folder\n');
    fs.mkdirSync(path.join(tmp, 'vectors-is-a-file'));
    fs.writeFileSync(path.join(tmp, 'vectors-is-a-file', 'vectors'), '');
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  // Root is not stopped by permission bits: these are places no process can write.
  const unusable = (): [string, RegExp][] => [
    [path.join(tmp, 'a-file', 'data'), /: .*a-file is not a folder$/],
    [path.join(tmp, 'a-file'), /: .*a-file is not a folder$/],
    [`/proc/clip-search-${randomUUID()}`, /: cannot create \/proc\/clip-search-[-\w]+ \(ENOENT\)$/],
    [`/proc/clip-search-${randomUUID()}/a/b`, /: cannot create \/proc\/clip-search-[-\w]+ \(ENOENT\)$/],
    ['/proc', /: not writable \(\w+\)$/],
    [path.join(tmp, 'vectors-is-a-file'), /: .*vectors-is-a-file\/vectors is not a folder$/],
  ];

  test('an unusable DATA_DIR is a configuration error naming it, the path and what is wrong', async () => {
    for (const [dataDir, problem] of unusable()) {
      const started = startTestServer({}, { dataDir });
      await expect(started).rejects.toThrow(ConfigError);
      const error = (await started.catch((e: unknown) => e)) as ConfigError;
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]?.startsWith(`DATA_DIR=${dataDir}: `)).toBe(true);
      expect(error.problems[0]).toMatch(problem);
    }
  });

  test('missing parents of DATA_DIR are created, as mkdir -p would', async () => {
    const dataDir = path.join(tmp, 'new', 'nested', 'data');
    const server = await startTestServer({}, { dataDir });
    try {
      await server.running.ready;
      await request(server.url).get('/readyz').expect(200);
      expect(fs.statSync(dataPaths(dataDir).vectors).isDirectory()).toBe(true);
      expect(fs.readdirSync(dataDir).filter((name) => name.startsWith('.write-test'))).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe('a damaged vector store', () => {
  const DIM = 512; // tiny-clip's
  const COUNT = 1_500;
  let dataDir: string;
  let content: VectorItem[];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'clip-damaged-store-'));
    content = distinctItems(COUNT, DIM, 'tiny-clip');
    const store = await openEmbeddedVectorStore({
      dir: dataPaths(dataDir).vectors,
      dim: DIM,
      modelId: 'tiny-clip',
    });
    await store.upsert(content);
    await store.close();
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('is refused at start with the file and the recovery command; once recovered, the survivors are served', async () => {
    const { vectors } = dataPaths(dataDir);
    const file = path.join(vectors, 'store.db');
    // Rows lost with the table's pages, and the id index (which opening never reads) garbled.
    damageLeafPages(file, 'items', 4);
    damageLeafPages(file, 'sqlite_autoindex_items_1', 2);

    const refused = await startTestServer({}, { dataDir });
    try {
      const failure = (await refused.running.ready.catch((error: unknown) => error)) as Error;
      expect(failure).toBeInstanceOf(DamagedStoreError);
      expect(failure.message).toContain(`vector store file ${file} is damaged`);
      expect(failure.message).toContain(`clip-search store recover --store ${vectors}`);
      await request(refused.url).get('/readyz').expect(503);
    } finally {
      await refused.close();
    }

    const report = recoverEmbeddedStore(vectors);
    expect(report.recovered).toBeLessThan(COUNT);
    expect(report.recovered).toBeGreaterThan(COUNT / 2);

    const server = await startTestServer({}, { dataDir });
    try {
      await server.running.ready;
      const stats = await request(server.url).get('/v1/stats').expect(200);
      expect((stats.body as { items: number }).items).toBe(report.recovered);
      const found = await Promise.all(
        content.map(async (item) => (await request(server.url).get(`/v1/items/${item.id}`)).status),
      );
      expect(found.filter((status) => status === 200)).toHaveLength(report.recovered);
      expect(found.filter((status) => status === 404)).toHaveLength(COUNT - report.recovered);
      const survivor = content[found.indexOf(200)] as VectorItem;
      const similar = await request(server.url)
        .get(`/v1/items/${survivor.id}/similar`)
        .query({ k: 3 })
        .expect(200);
      expect((similar.body as { results: unknown[] }).results).toHaveLength(3);
      await request(server.url).post('/v1/search').send({ query: 'a photo', k: 5 }).expect(200);
    } finally {
      await server.close();
    }
  });
});

describe('originals behind a parent folder swapped for a symlink', () => {
  let corpus: string;
  let outside: string;
  beforeAll(async () => {
    corpus = fs.realpathSync(await makeCorpus());
    outside = fs.realpathSync(await mkdtemp(path.join(os.tmpdir(), 'clip-outside-')));
    // Files with the names of the corpus's, holding other pictures: what a swapped link would expose.
    fs.copyFileSync(path.join(PHOTOS, 'coffee.png'), path.join(outside, 'horse.png'));
    fs.mkdirSync(path.join(outside, 'deeper'));
    fs.copyFileSync(path.join(PHOTOS, 'coffee.png'), path.join(outside, 'deeper', 'brick.png'));
  });
  afterAll(async () => {
    await rm(corpus, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  /** Replaces `corpus/<folder>` by a symlink to `target`, keeping the real folder aside. */
  const swapForLink = (folder: string, target: string) => {
    fs.renameSync(path.join(corpus, folder), path.join(corpus, `${folder}.moved`));
    fs.symlinkSync(target, path.join(corpus, folder));
  };
  const restore = (folder: string) => {
    fs.rmSync(path.join(corpus, folder));
    fs.renameSync(path.join(corpus, `${folder}.moved`), path.join(corpus, folder));
  };

  test('/image and /thumbnail answer 404 and the operator is warned', async () => {
    const server = await startTestServer({ CORPUS_DIR: corpus });
    try {
      await server.running.ready;
      const queued = await request(server.url)
        .post('/v1/ingest')
        .send({ source: folderUri(corpus) })
        .expect(202);
      const job = await waitForJob(server.url, (queued.body as { id: string }).id);
      expect(job.state).toBe('completed');
      const horse = itemIdForUri(pathToFileURL(path.join(corpus, 'sub', 'horse.png')).href);
      const chelsea = itemIdForUri(pathToFileURL(path.join(corpus, 'chelsea.png')).href);
      await request(server.url).get(`/v1/items/${horse}/image`).expect(200);

      swapForLink('sub', outside);
      try {
        for (const route of ['image', 'thumbnail']) {
          const response = await request(server.url).get(`/v1/items/${horse}/${route}`);
          expect({ route, status: response.status }).toEqual({ route, status: 404 });
          expect((response.body as { type: string }).type).toBe(PROBLEM_NOT_FOUND);
          expect(JSON.stringify(response.body)).not.toContain(outside);
        }
        const warnings = server.logs.filter(
          (entry) => entry.message === 'Refused to serve an original outside the allowed roots',
        );
        expect(warnings.length).toBeGreaterThanOrEqual(2);
        expect(warnings[0]).toMatchObject({ level: 'warn', itemId: horse });
        // Files whose path has no link are served as before.
        await request(server.url).get(`/v1/items/${chelsea}/image`).expect(200);
        await request(server.url).get(`/v1/items/${chelsea}/thumbnail`).expect(200);
      } finally {
        restore('sub');
      }
    } finally {
      await server.close();
    }
  });

  test('an ingest reading a file listed before its folder was swapped refuses it', async () => {
    const source = await resolveFileSource(folderUri(corpus), [corpus]);
    const objects: SourceObject[] = [];
    for await (const object of source.list()) objects.push(object);
    const brick = objects.find((object) => object.key === 'sub/deeper/brick.png');
    expect(brick).toBeDefined();
    swapForLink(path.join('sub', 'deeper'), path.join(outside, 'deeper'));
    try {
      await expect(source.read(brick as SourceObject)).rejects.toThrow(ForbiddenSourceError);
    } finally {
      restore(path.join('sub', 'deeper'));
    }
    expect((await source.read(brick as SourceObject)).length).toBeGreaterThan(0);
  });
});
