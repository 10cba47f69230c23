import { MicroBatcher } from '../../src/embedder/micro-batcher';
import { BackendUnavailableError } from '@clip-search/contracts';

/**
 * A batch function that records what it was given and answers `x → x * 10`. Held, each call waits for
 * `releaseNext()` (or `releaseAll()`), so a test decides when the batch in flight ends.
 */
function recordingRun() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  let gated = false;
  const run = async (items: readonly number[]): Promise<number[]> => {
    batches.push([...items]);
    if (gated) await new Promise<void>((resolve) => gates.push(resolve));
    if (items.includes(-1)) throw new Error(`batch ${batches.length} failed`);
    return items.map((x) => x * 10);
  };
  return {
    run,
    batches,
    sizes: () => batches.map((b) => b.length),
    hold: () => (gated = true),
    releaseNext: () => gates.shift()?.(),
    releaseAll: () => {
      gated = false;
      for (const g of gates.splice(0)) g();
    },
  };
}

/** Lets queued microtasks run, and no timer: what happens "at once" has happened after this. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Lets pending I/O and timers due now run (the batch-end callbacks, a zero-delay timer). */
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Settles once `batches` holds `n` calls (the batcher dispatches on its own schedule). */
async function untilCalls(batches: readonly unknown[], n: number): Promise<void> {
  while (batches.length < n) await turn();
}

describe('MicroBatcher', () => {
  test('a lone item on an idle model runs at once, without waiting for company', async () => {
    const r = recordingRun();
    r.hold();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 8, run: r.run });
    const result = batcher.submit(7);
    await microtasks();
    expect(r.batches).toEqual([[7]]);
    expect(batcher.waiting).toBe(0);
    r.releaseAll();
    await expect(result).resolves.toBe(70);
  });

  test('items submitted in one synchronous turn share the idle dispatch', async () => {
    const r = recordingRun();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 8, run: r.run });
    await expect(batcher.submitAll([1, 2, 3])).resolves.toEqual([10, 20, 30]);
    expect(r.batches).toEqual([[1, 2, 3]]);
  });

  test('while a batch runs, arrivals gather and go as one batch when it ends', async () => {
    const r = recordingRun();
    r.hold();
    const sizes: number[] = [];
    const batcher = new MicroBatcher<number, number>({
      maxBatchSize: 8,
      run: r.run,
      onBatch: (n) => sizes.push(n),
    });
    const first = batcher.submit(1);
    await microtasks();
    // Three callers in three separate turns, all while batch [1] is in flight.
    const later: Promise<number>[] = [];
    for (const x of [2, 3, 4]) {
      later.push(batcher.submit(x));
      await turn();
    }
    expect(r.batches).toEqual([[1]]);
    expect(batcher.waiting).toBe(3);

    r.releaseNext();
    await expect(first).resolves.toBe(10);
    await untilCalls(r.batches, 2);
    expect(r.batches).toEqual([[1], [2, 3, 4]]);
    expect(batcher.waiting).toBe(0);
    r.releaseAll();
    await expect(Promise.all(later)).resolves.toEqual([20, 30, 40]);
    expect(sizes).toEqual([1, 3]);
  });

  test('maxBatchSize caps every batch; the rest follow in arrival order, one batch in flight at a time', async () => {
    const r = recordingRun();
    r.hold();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 2, run: r.run });
    const first = batcher.submitAll([1, 2, 3]); // [1, 2] now, 3 waits for it
    await microtasks();
    expect(r.batches).toEqual([[1, 2]]);
    const second = batcher.submitAll([4, 5, 6]);
    await turn();
    expect(r.batches).toHaveLength(1); // still one in flight: nothing else dispatched
    expect(batcher.waiting).toBe(4);

    r.releaseNext();
    await untilCalls(r.batches, 2);
    expect(r.batches[1]).toEqual([3, 4]);
    expect(batcher.waiting).toBe(2);
    r.releaseAll();
    await expect(first).resolves.toEqual([10, 20, 30]);
    await expect(second).resolves.toEqual([40, 50, 60]);
    expect(r.batches).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  test('concurrent callers are coalesced into batches of at most maxBatchSize, results routed back', async () => {
    const r = recordingRun();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 4, run: r.run });
    const results = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((x) => batcher.submit(x)));
    expect(results).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(r.sizes()).toEqual([4, 4, 2]);
    expect(r.batches.flat()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('a positive maxWaitMs holds an idle item for company; a full batch goes without waiting', async () => {
    const r = recordingRun();
    // A wait no test outlives: only a full batch or close() can end it here.
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 3, maxWaitMs: 600_000, run: r.run });
    const firstTwo = batcher.submitAll([1, 2]);
    await turn();
    expect(r.batches).toEqual([]);
    expect(batcher.waiting).toBe(2);
    const third = batcher.submit(3);
    await expect(Promise.all([firstTwo, third])).resolves.toEqual([[10, 20], 30]);
    expect(r.batches).toEqual([[1, 2, 3]]);

    const lone = batcher.submit(4);
    await turn();
    expect(r.batches).toHaveLength(1);
    await batcher.close(); // clears the timer, rejects the waiting item
    await expect(lone).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  test('a positive maxWaitMs still runs a lone item once its wait is up', async () => {
    const r = recordingRun();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 8, maxWaitMs: 1, run: r.run });
    await expect(batcher.submit(7)).resolves.toBe(70);
    expect(r.batches).toEqual([[7]]);
  });

  test("a failing batch rejects exactly its callers' items", async () => {
    const r = recordingRun();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 2, run: r.run });
    const outcomes = await Promise.allSettled([
      batcher.submit(1),
      batcher.submit(-1), // fails batch [1, -1]
      batcher.submit(3),
      batcher.submit(4),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect((outcomes[0] as PromiseRejectedResult).reason).toEqual(new Error('batch 1 failed'));
    expect(outcomes.slice(2)).toEqual([
      { status: 'fulfilled', value: 30 },
      { status: 'fulfilled', value: 40 },
    ]);
  });

  test('a run that returns the wrong number of outputs rejects its batch', async () => {
    const batcher = new MicroBatcher<number, number>({
      maxBatchSize: 4,
      run: () => Promise.resolve([1]),
    });
    await expect(batcher.submitAll([1, 2])).rejects.toThrow(/2 items produced 1 outputs/);
  });

  test('close() rejects waiting items, lets the batch in flight finish, refuses new items', async () => {
    const r = recordingRun();
    r.hold();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 1, run: r.run });
    const inFlight = batcher.submit(1);
    const waiting = batcher.submit(2);
    await microtasks();
    const closing = batcher.close();
    await expect(waiting).rejects.toBeInstanceOf(BackendUnavailableError);
    r.releaseAll();
    await closing;
    await expect(inFlight).resolves.toBe(10);
    await expect(batcher.submit(3)).rejects.toBeInstanceOf(BackendUnavailableError);
    expect(r.batches).toEqual([[1]]);
  });

  test('rejects nonsensical settings', () => {
    const run = () => Promise.resolve([]);
    expect(() => new MicroBatcher({ maxBatchSize: 0, run })).toThrow(RangeError);
    expect(() => new MicroBatcher({ maxBatchSize: 2, maxWaitMs: -1, run })).toThrow(RangeError);
  });
});
