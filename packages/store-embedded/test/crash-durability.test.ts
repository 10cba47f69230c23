import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

import { seededRandom } from '@clip-search/contracts/testing';
import { openEmbeddedVectorStore } from '../src/embedded-vector-store';
import { MODEL_ID, scanAll, temporaryDir, vectorFor } from '@clip-search/contracts/testing';

const REPO_ROOT = resolve(__dirname, '../../..');
const WRITER = join(__dirname, 'crash-writer.ts');
const DIM = 48;
const ROUNDS = 6;

/** What the store must hold for an id: a version of it, or nothing. */
type Outcome = number | 'absent';

interface PendingOperation {
  readonly op: number;
  readonly upsert?: readonly { id: string; version: number }[];
  readonly delete?: readonly string[];
}

/**
 * A writer process upserts and deletes in a loop and is killed with SIGKILL at a random moment, again and
 * again on the same directory. After each kill the store must hold every acknowledged write, exactly: the
 * one operation in flight may or may not have happened, nothing else is uncertain.
 */
describe('embedded vector store under kill -9', () => {
  test('keeps every acknowledged write and a consistent index across repeated kills', async () => {
    const tmp = temporaryDir('vector-store-crash-');
    const confirmed = new Map<string, Outcome>();
    const random = seededRandom(99);
    let acknowledged = 0;
    try {
      for (let generation = 1; generation <= ROUNDS; generation++) {
        const delayMs = 150 + Math.floor(random() * 700);
        const { acked, pending } = await runAndKill(tmp.dir, generation, delayMs);
        for (const operation of acked) apply(confirmed, operation);
        acknowledged += acked.length;
        await verify(tmp.dir, confirmed, pending);
      }
      // The kills did land among writes: acknowledged operations were checked, not an empty store.
      expect(acknowledged).toBeGreaterThan(ROUNDS);
    } finally {
      tmp.remove();
    }
  }, 240_000);
});

function apply(state: Map<string, Outcome>, operation: PendingOperation): void {
  for (const { id, version } of operation.upsert ?? []) state.set(id, version);
  for (const id of operation.delete ?? []) state.set(id, 'absent');
}

/** Runs the writer until `delayMs` after it is ready, kills it, and returns what it had acknowledged. */
async function runAndKill(
  dir: string,
  generation: number,
  delayMs: number,
): Promise<{ acked: PendingOperation[]; pending: PendingOperation | undefined }> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', WRITER, dir, String(generation), String(DIM)],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const acked: PendingOperation[] = [];
  let pending: PendingOperation | undefined;
  let stderr = '';
  let buffered = '';
  let killTimer: NodeJS.Timeout | undefined;
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'READY') {
        killTimer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      } else if (line.startsWith('SEND ')) {
        pending = JSON.parse(line.slice(5)) as PendingOperation;
      } else if (line.startsWith('ACK ')) {
        if (pending?.op !== Number(line.slice(4))) throw new Error(`ACK without SEND: ${line}`);
        acked.push(pending);
        pending = undefined;
      }
    }
  });
  const exit = await new Promise<NodeJS.Signals | number | null>((done) => {
    child.on('exit', (code, signal) => {
      done(signal ?? code);
    });
  });
  clearTimeout(killTimer);
  if (exit !== 'SIGKILL') throw new Error(`writer ended by itself (${String(exit)}):\n${stderr}`);
  return { acked, pending };
}

async function verify(
  dir: string,
  confirmed: Map<string, Outcome>,
  pending: PendingOperation | undefined,
): Promise<void> {
  // exactSearchMaxCandidates 1: every search goes through the reloaded index, which is what is checked.
  const store = await openEmbeddedVectorStore({
    dir,
    dim: DIM,
    modelId: MODEL_ID,
    exactSearchMaxCandidates: 1,
  });
  try {
    const allowed = new Map<string, Set<Outcome>>();
    for (const [id, outcome] of confirmed) allowed.set(id, new Set([outcome]));
    const uncertain = (id: string, outcome: Outcome): void => {
      const set = allowed.get(id) ?? new Set<Outcome>(['absent']);
      set.add(outcome);
      allowed.set(id, set);
    };
    for (const { id, version } of pending?.upsert ?? []) uncertain(id, version);
    for (const id of pending?.delete ?? []) uncertain(id, 'absent');

    const stored = (await scanAll(store, 500)).map((item) => item.id);
    expect(new Set(stored).size).toBe(stored.length);
    expect(await store.count()).toBe(stored.length);
    // The reloaded index (snapshot + replay, or rebuild) holds exactly the stored items.
    expect(await store.checkIntegrity()).toEqual({
      items: stored.length,
      indexed: stored.length,
      missing: 0,
      mismatched: 0,
    });
    // Nothing appears that was never written.
    expect(stored.filter((id) => !allowed.has(id))).toEqual([]);

    const records = await store.get([...allowed.keys()]);
    const actual = new Map<string, Outcome>();
    [...allowed.keys()].forEach((id, i) => {
      const version = records[i]?.metadata.version;
      actual.set(id, typeof version === 'number' ? version : 'absent');
    });
    const wrong = [...allowed].filter(([id, outcomes]) => !outcomes.has(actual.get(id)!));
    expect(wrong.map(([id, outcomes]) => ({ id, expected: [...outcomes], actual: actual.get(id) }))).toEqual(
      [],
    );

    // Stored vectors are exactly the written ones (checkIntegrity compared the index's to them). Searches
    // find the items of the interrupted operation and a sample of the others by their own vector: an ANN
    // search may in rare cases rank a node lower than it belongs (hence k = 10), a score of 1 shows which
    // vector the index has.
    const touched = new Set([...(pending?.upsert ?? []).map((u) => u.id), ...(pending?.delete ?? [])]);
    const wrongVectors: string[] = [];
    const sampled = (id: string, i: number): boolean =>
      touched.has(id) || i % Math.ceil(actual.size / 150) === 0;
    for (const [i, [id, outcome]] of [...actual].entries()) {
      if (outcome === 'absent') continue;
      const expected = vectorFor(id, outcome, DIM);
      const stored = await store.getVector(id);
      if (stored?.some((x, j) => x !== expected[j]) !== false) wrongVectors.push(id);
      if (!sampled(id, i)) continue;
      const hit = (await store.search({ vector: expected, k: 10 })).find((h) => h.item.id === id);
      expect(hit?.score).toBeCloseTo(1, 4);
    }
    expect(wrongVectors).toEqual([]);
    for (const [i, [id, outcome]] of [...actual].entries()) {
      if (outcome !== 'absent' || !sampled(id, i)) continue;
      const hits = await store.search({ vector: vectorFor(id, 0, DIM), k: 10 });
      expect(hits.map((h) => h.item.id)).not.toContain(id);
    }
    // From here on the outcome of the interrupted operation is known.
    for (const [id, outcome] of actual) confirmed.set(id, outcome);
  } finally {
    await store.close();
  }
}
