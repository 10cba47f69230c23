import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { lowRankUnitVectors, rowOf } from './random-vectors';
import type { ItemRecord, Metadata, VectorItem, VectorStore } from '../vector-store/vector-store';

export const MODEL_ID = 'test-model';

/** A fresh temporary directory, removed by the returned cleanup. */
export function temporaryDir(prefix = 'vector-store-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `count` seeded unit vectors of `dim` floats, as separate arrays. */
export function unitVectors(count: number, dim: number, seed: number): Float32Array[] {
  const packed = lowRankUnitVectors(count, dim, seed, { rank: Math.min(16, dim) });
  return Array.from({ length: count }, (_, i) => rowOf(packed, dim, i).slice());
}

export function makeItem(
  id: string,
  vector: Float32Array,
  options: { uri?: string; metadata?: Metadata; modelId?: string } = {},
): VectorItem {
  return {
    id,
    uri: options.uri ?? `file:///photos/${id}.jpg`,
    contentHash: `sha256:${id}`,
    width: 640,
    height: 480,
    modelId: options.modelId ?? MODEL_ID,
    ingestedAt: '2026-01-02T03:04:05.000Z',
    metadata: options.metadata ?? {},
    vector,
  };
}

/** Ids of the `k` items with the highest inner product with `query` (ties by id): the reference answer. */
export function exactIds(items: readonly VectorItem[], query: Float32Array, k: number): string[] {
  return items
    .map((item) => ({ id: item.id, score: dot(item.vector, query) }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
    .slice(0, k)
    .map((s) => s.id);
}

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** A unit vector determined by (id, version): a writer and its checker agree on it without talking. */
export function vectorFor(id: string, version: number, dim: number): Float32Array {
  let seed = 2166136261;
  for (const ch of `${id}#${version}`) seed = Math.imul(seed ^ ch.charCodeAt(0), 16777619) >>> 0;
  return lowRankUnitVectors(1, dim, seed, { rank: 8 });
}

/** Every stored record, in id order, read with `scan` in pages of `pageSize`. */
export async function scanAll(store: VectorStore, pageSize: number): Promise<ItemRecord[]> {
  const records: ItemRecord[] = [];
  let after: string | undefined;
  do {
    const page = await store.scan({ limit: pageSize, ...(after === undefined ? {} : { after }) });
    records.push(...page.items);
    after = page.next;
  } while (after !== undefined);
  return records;
}
