/**
 * The VectorStore conformance suite on the Milvus store, against a real Milvus (2.3 standalone from
 * .venv-milvus/, started by this file, about 20 s): every case on a collection of its own, the reopen
 * case on the same collection, and the restart case killing the server (kill -9) and starting it again on
 * its data, the store reconnecting by itself.
 *
 * The server needs .venv-milvus/ (scripts/milvus-server.sh, run here first: instant when up to date).
 * Where it cannot be built, the suite is reported as skipped, naming the reason.
 */
import type { StoreIdentity, VectorStore } from '@clip-search/contracts';
import { vectorStoreConformance } from '@clip-search/contracts/testing';
import { MilvusVectorStore, openMilvusVectorStore } from '../src';
import { type MilvusServer, prepareMilvusVenv, startMilvusServer } from '../src/testing';

const unavailable = prepareMilvusVenv();
if (unavailable !== undefined) console.warn(`SKIPPED: the Milvus conformance suite: ${unavailable}`);

// Reads right after writes wait for a Milvus time tick (~200 ms each), and the filter cases read a lot.
jest.setTimeout(180_000);

let server: MilvusServer | undefined;
let opened = 0;

beforeAll(async () => {
  if (unavailable !== undefined) return;
  const started = await startMilvusServer();
  if ('skipped' in started) throw new Error(started.skipped);
  server = started;
  console.info(`Milvus started in ${server.startMs} ms at ${server.address}`);
}, 240_000);

afterAll(async () => {
  await server?.close();
});

function milvus(): MilvusServer {
  if (server === undefined) throw new Error('the Milvus server did not start');
  return server;
}

const openAt = (collection: string, identity: StoreIdentity): Promise<MilvusVectorStore> =>
  openMilvusVectorStore({ address: milvus().address, collection, ...identity });

function collectionOf(store: VectorStore): string {
  if (!(store instanceof MilvusVectorStore)) throw new Error('not a store of this subject');
  return store.collection;
}

/** Until the store answers reads again (Milvus reloads its collections after a restart). */
async function untilServing(store: VectorStore): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const health = await store.health();
    if (health.ok) {
      try {
        await store.count();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
    } else if (Date.now() > deadline) throw new Error(`the store is not healthy again: ${health.detail}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

vectorStoreConformance(
  {
    label: 'Milvus store (real Milvus 2.3)',
    open: (identity) => openAt(`conformance_${++opened}`, identity),
    reopen: (store, identity) => openAt(collectionOf(store), identity),
    restart: async (store) => {
      await milvus().restart();
      await untilServing(store);
      return store;
    },
  },
  unavailable === undefined ? {} : { skip: unavailable },
);
