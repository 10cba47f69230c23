/**
 * The writer the crash test kills with SIGKILL: it upserts (new ids, and new versions of existing ids) and
 * deletes in a loop, printing each operation before it starts (SEND) and after its promise resolved (ACK).
 * Run as: node --import tsx crash-writer.ts <dir> <generation> <dim>
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { openEmbeddedVectorStore } from '../src/embedded-vector-store';
import { seededRandom } from '@clip-search/contracts/testing';
import { makeItem, MODEL_ID, scanAll, vectorFor } from '@clip-search/contracts/testing';

async function main(): Promise<void> {
  const [dir, generationText, dimText] = process.argv.slice(2);
  if (dir === undefined || generationText === undefined || dimText === undefined)
    throw new Error('usage: dir generation dim');
  const generation = Number(generationText);
  const dim = Number(dimText);
  // Frequent snapshots, so that kills also land while one is being written.
  const store = await openEmbeddedVectorStore({ dir, dim, modelId: MODEL_ID, snapshotEvery: 40 });
  const existing = (await scanAll(store, 1_000)).map((item) => item.id);
  const random = seededRandom(1_000 + generation);
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  say('READY');
  for (let op = 0; ; op++) {
    if (op % 4 === 3 && existing.length > 10) {
      const ids = Array.from(
        { length: 1 + Math.floor(random() * 3) },
        () => existing.splice(Math.floor(random() * existing.length), 1)[0]!,
      );
      say(`SEND ${JSON.stringify({ op, delete: ids })}`);
      await store.delete(ids);
      say(`ACK ${op}`);
      continue;
    }
    const fresh = Array.from(
      { length: 1 + Math.floor(random() * 10) },
      (_, j) => `g${generation}-${op}-${j}`,
    );
    const replaced =
      existing.length > 0 && random() < 0.4 ? [existing[Math.floor(random() * existing.length)]!] : [];
    const upsert = [
      ...fresh.map((id) => ({ id, version: 0 })),
      ...replaced.map((id) => ({ id, version: generation * 1_000 + op })),
    ];
    say(`SEND ${JSON.stringify({ op, upsert })}`);
    await store.upsert(
      upsert.map(({ id, version }) => makeItem(id, vectorFor(id, version, dim), { metadata: { version } })),
    );
    say(`ACK ${op}`);
    existing.push(...fresh);
    // A short pause between batches, as an ingest pipeline embeds between them: it keeps the store small
    // enough for the checker to verify everything after each kill.
    await sleep(3);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
