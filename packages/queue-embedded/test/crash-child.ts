// Child process of ingest-crash-resume.test.ts: starts an ingest job in a real queue, reports every
// batch the store acknowledged on stdout, and holds the embedder after `holdAfter` images so that the
// parent can `kill -9` it mid-job at a known point (never timing-based).
//   node --import tsx crash-child.ts <dataDir> <corpusDir> <holdAfter>
import { pathToFileURL } from 'node:url';
import { EmbeddedIngestQueue } from '../src/embedded-ingest-queue';
import { IngestPipeline } from '@clip-search/ingest';
import { SourceResolver } from '@clip-search/ingest';
import type { VectorStore } from '@clip-search/contracts';
import { GatedEmbedder } from '@clip-search/ingest/testing';
import { openStore } from '@clip-search/store-embedded/testing';
import { openTinyEmbedder } from '@clip-search/embedder-onnx/testing';

async function main(): Promise<void> {
  const [dataDir, corpus, holdAfter] = process.argv.slice(2);
  if (dataDir === undefined || corpus === undefined || holdAfter === undefined)
    throw new Error('usage: crash-child.ts <dataDir> <corpusDir> <holdAfter>');
  const embedder = new GatedEmbedder(await openTinyEmbedder());
  const store = await openStore(dataDir, embedder);
  // Stdout writes to a pipe are synchronous on Linux: a printed ACKED line is out before any kill.
  const acking: VectorStore = {
    dim: store.dim,
    modelId: store.modelId,
    upsert: async (items) => {
      await store.upsert(items);
      process.stdout.write(`ACKED ${items.map((item) => item.id).join(',')}\n`);
    },
    delete: (ids) => store.delete(ids),
    get: (ids) => store.get(ids),
    getVector: (id) => store.getVector(id),
    count: (filter) => store.count(filter),
    search: (request) => store.search(request),
    scan: (options) => store.scan(options),
    health: () => store.health(),
    close: () => store.close(),
  };
  const blocked = embedder.hold(Number(holdAfter));
  // Keeps the process alive once held, until the parent's kill; ends an orphan whose parent died first.
  setTimeout(() => process.exit(2), 120_000);
  const queue = await EmbeddedIngestQueue.open({
    dataDir,
    pipeline: new IngestPipeline({ embedder, store: acking, batchSize: 8 }),
    sources: SourceResolver.localFolders([corpus]),
    progressIntervalMs: 0,
  });
  const job = await queue.enqueue({ source: pathToFileURL(corpus).href });
  process.stdout.write(`JOB ${job.id}\n`);
  await blocked;
  process.stdout.write('HELD\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
