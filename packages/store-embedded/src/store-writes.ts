import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

import { checkItem, InvalidInputError, type StoreIdentity, type VectorItem } from '@clip-search/contracts';
import type { IndexLifecycle } from './index-lifecycle';
import type { ItemTable } from './item-table';
import type { WriteQueue } from './write-queue';

/** Rows per SQLite transaction when upserting (each commit is one fsync). */
const WRITE_CHUNK = 1_024;
/** Vectors inserted into the index between yields to the event loop (each takes ~0.3–1 ms). */
const INDEX_CHUNK = 64;

/**
 * The store's upserts and deletes, each taking its turn in the write queue. Durable first: the item table
 * is the truth and the index follows it (caught up at the next open if the process dies in between).
 */
export class StoreWrites {
  constructor(
    private readonly table: ItemTable,
    private readonly live: IndexLifecycle,
    private readonly queue: WriteQueue,
    private readonly identity: StoreIdentity,
  ) {}

  async upsert(items: readonly VectorItem[]): Promise<void> {
    const given: unknown = items;
    if (!Array.isArray(given)) throw new InvalidInputError('upsert takes an array of items');
    for (const item of given) checkItem(item, this.identity);
    // Within one call the last item of an id wins, as if they had been upserted one after the other.
    const unique = [...new Map(items.map((item) => [item.id, item])).values()];
    if (unique.length === 0) return;
    await this.queue.run(async () => {
      for (let start = 0; start < unique.length; start += WRITE_CHUNK) {
        const chunk = unique.slice(start, start + WRITE_CHUNK);
        const { labels, replaced } = this.table.upsert(chunk);
        this.live.remove(replaced);
        for (let at = 0; at < chunk.length; at += INDEX_CHUNK) {
          const slice = chunk.slice(at, at + INDEX_CHUNK);
          this.live.add(slice.map((item, i) => ({ label: labels[at + i] as number, vector: item.vector })));
          if (at + INDEX_CHUNK < chunk.length) await yieldToEventLoop();
        }
        this.live.changed(chunk.length);
      }
      this.live.snapshotIfDue();
    });
  }

  /** Deletes the items of these ids; resolves to how many there were. Throws on ids that are not strings. */
  delete(ids: readonly string[]): Promise<number> {
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
      throw new InvalidInputError('delete takes an array of id strings');
    }
    if (ids.length === 0) return Promise.resolve(0);
    return this.queue.run(() => {
      const { labels } = this.table.delete(ids);
      this.live.remove(labels);
      this.live.changed(labels.length);
      this.live.snapshotIfDue();
      return Promise.resolve(labels.length);
    });
  }
}
