import { MicroBatcher } from '../../src/embedder/micro-batcher';
import { BackendUnavailableError } from '@clip-search/contracts';

/** A batch function that records what it was given and answers `x → x * 10` after `release()`. */
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
    hold: () => (gated = true),
    releaseAll: () => {
      gated = false;
      for (const g of gates.splice(0)) g();
    },
  };
}

describe('MicroBatcher', () => {
  test('concurrent callers are coalesced into batches of at most maxBatchSize, results routed back', async () => {
    const r = recordingRun();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 4, maxWaitMs: 50, run: r.run });
    const results = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((x) => batcher.submit(x)));
    expect(results).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    // Full batches go at once (the second when the first ends); the remainder waits for its own timer.
    expect(r.batches.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(r.batches.flat()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('a lone item runs after maxWaitMs without company', async () => {
    const r = recordingRun();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 8, maxWaitMs: 5, run: r.run });
    await expect(batcher.submit(7)).resolves.toBe(70);
    expect(r.batches).toEqual([[7]]);
  });

  test('one batch in flight at a time; the next gathers meanwhile and keeps arrival order', async () => {
    const r = recordingRun();
    r.hold();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 2, maxWaitMs: 0, run: r.run });
    const first = batcher.submitAll([1, 2]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.batches).toEqual([[1, 2]]);
    const second = batcher.submitAll([3, 4, 5]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.batches).toHaveLength(1); // still one in flight: nothing else dispatched
    expect(batcher.waiting).toBe(3);
    r.releaseAll();
    await expect(first).resolves.toEqual([10, 20]);
    await expect(second).resolves.toEqual([30, 40, 50]);
    expect(r.batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  test("a failing batch rejects exactly its callers' items", async () => {
    const r = recordingRun();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 2, maxWaitMs: 0, run: r.run });
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
      maxWaitMs: 0,
      run: () => Promise.resolve([1]),
    });
    await expect(batcher.submitAll([1, 2])).rejects.toThrow(/2 items produced 1 outputs/);
  });

  test('close() rejects waiting items, lets the batch in flight finish, refuses new items', async () => {
    const r = recordingRun();
    r.hold();
    const batcher = new MicroBatcher<number, number>({ maxBatchSize: 1, maxWaitMs: 0, run: r.run });
    const inFlight = batcher.submit(1);
    const waiting = batcher.submit(2);
    await new Promise((resolve) => setImmediate(resolve));
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
    expect(() => new MicroBatcher({ maxBatchSize: 0, maxWaitMs: 1, run })).toThrow(RangeError);
    expect(() => new MicroBatcher({ maxBatchSize: 2, maxWaitMs: -1, run })).toThrow(RangeError);
  });
});
