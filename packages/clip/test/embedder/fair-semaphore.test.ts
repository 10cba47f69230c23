import { FairSemaphore } from '../../src/embedder/fair-semaphore';

/** Lets every settled promise run its callbacks. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

/** Acquires for `owner` and records the grant in `order` (as `owner:label`). */
function enqueue(sem: FairSemaphore, owner: string, label: string, order: string[], signal?: AbortSignal) {
  return sem.acquire(owner, signal).then(() => {
    order.push(`${owner}:${label}`);
  });
}

describe('FairSemaphore', () => {
  test('grants up to `permits` at once, the rest wait', async () => {
    const sem = new FairSemaphore(2);
    const order: string[] = [];
    for (const label of ['1', '2', '3']) void enqueue(sem, 'a', label, order);
    await flush();
    expect(order).toEqual(['a:1', 'a:2']);
    expect({ active: sem.active, waiting: sem.waiting }).toEqual({ active: 2, waiting: 1 });
    sem.release('a');
    await flush();
    expect(order).toEqual(['a:1', 'a:2', 'a:3']);
    sem.release('a');
    sem.release('a');
    expect({ active: sem.active, waiting: sem.waiting }).toEqual({ active: 0, waiting: 0 });
  });

  test("one client's many queued requests do not hold back another client's single one", async () => {
    const sem = new FairSemaphore(2);
    const order: string[] = [];
    for (let i = 1; i <= 10; i++) void enqueue(sem, 'greedy', String(i), order);
    await flush();
    void enqueue(sem, 'polite', '1', order);
    await flush();
    expect(order).toEqual(['greedy:1', 'greedy:2']);
    // The next free permit goes to the client holding none, not to the head of the queue.
    sem.release('greedy');
    await flush();
    expect(order.at(-1)).toBe('polite:1');
    sem.release('greedy');
    await flush();
    expect(order.at(-1)).toBe('greedy:3');
  });

  test('clients with waiting requests are served round-robin, each in its own arrival order', async () => {
    const sem = new FairSemaphore(1);
    const order: string[] = [];
    await sem.acquire('x');
    for (let i = 1; i <= 3; i++) void enqueue(sem, 'a', String(i), order);
    for (let i = 1; i <= 3; i++) void enqueue(sem, 'b', String(i), order);
    void enqueue(sem, 'c', '1', order);
    await flush();
    let holder = 'x';
    for (let i = 0; i < 7; i++) {
      sem.release(holder);
      await flush();
      holder = (order.at(-1) ?? '').split(':')[0] ?? '';
    }
    expect(order).toEqual(['a:1', 'b:1', 'c:1', 'a:2', 'b:2', 'a:3', 'b:3']);
  });

  test('an aborted waiter leaves the queue at once and rejects with the reason; the others keep their turn', async () => {
    const sem = new FairSemaphore(1);
    await sem.acquire('a');
    const controller = new AbortController();
    const order: string[] = [];
    const aborted = enqueue(sem, 'b', '1', order, controller.signal);
    const other = enqueue(sem, 'c', '1', order);
    expect(sem.waiting).toBe(2);
    const reason = new Error('client went away');
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(sem.waiting).toBe(1);
    sem.release('a');
    await other;
    expect(order).toEqual(['c:1']);
    expect(sem.active).toBe(1);
  });

  test('an already aborted signal rejects without taking a permit', async () => {
    const sem = new FairSemaphore(1);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(sem.acquire('a', controller.signal)).rejects.toThrow('gone');
    expect(sem.active).toBe(0);
    await expect(sem.acquire('a', controller.signal)).rejects.toThrow('gone');
  });

  test('an abort after the grant changes nothing: the permit is held until released', async () => {
    const sem = new FairSemaphore(1);
    const controller = new AbortController();
    await sem.acquire('a', controller.signal);
    controller.abort(new Error('late'));
    expect(sem.active).toBe(1);
    sem.release('a');
    expect(sem.active).toBe(0);
  });

  test('use() releases on success and on failure', async () => {
    const sem = new FairSemaphore(1);
    await expect(sem.use('a', () => Promise.resolve(7))).resolves.toBe(7);
    await expect(sem.use('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(sem.active).toBe(0);
  });

  test('misuse is refused', () => {
    expect(() => new FairSemaphore(0)).toThrow(RangeError);
    expect(() => new FairSemaphore(1.5)).toThrow(RangeError);
    expect(() => {
      new FairSemaphore(1).release('nobody');
    }).toThrow(/holds no permit/);
  });
});
