import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ByteBudget } from '../src/image-url/byte-budget';
import { ImageUrlBusyError, ImageUrlFetcher } from '../src/image-url/image-url-fetcher';

describe('ByteBudget', () => {
  it('grants reservations while there is room and queues the rest in arrival order', async () => {
    const budget = new ByteBudget(100);
    const first = await budget.reserve(60);
    const order: string[] = [];
    const big = budget.reserve(80).then((release) => {
      order.push('big');
      return release;
    });
    const small = budget.reserve(10).then((release) => {
      order.push('small');
      return release;
    });
    await new Promise((resolve) => setImmediate(resolve));
    // 40 bytes are free, enough for `small`, but `big` came first: no overtaking, no starvation.
    expect(order).toEqual([]);
    first();
    first(); // a second release is a no-op
    (await big)();
    (await small)();
    expect(order).toEqual(['big', 'small']);
    expect(budget.reserved).toBe(0);
  });

  it('caps a reservation at the capacity, and lets an aborted waiter leave the queue', async () => {
    const budget = new ByteBudget(100);
    const all = await budget.reserve(1e9);
    expect(budget.reserved).toBe(100);
    const controller = new AbortController();
    const waiting = budget.reserve(50, controller.signal);
    const behind = budget.reserve(50);
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    all();
    (await behind)();
    expect(budget.reserved).toBe(0);
  });
});

describe('ImageUrlFetcher with IMAGE_URL_MAX_INFLIGHT_BYTES', () => {
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': '1000' });
      res.end(Buffer.alloc(1000, 7));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('holds downloaded bytes until the request closes its downloads, then lets the next one in', async () => {
    const fetcher = new ImageUrlFetcher({
      allowPrivate: true,
      timeoutMs: 300,
      maxBytes: 5000,
      maxInflightBytes: 1500,
    });
    const first = fetcher.downloads();
    expect((await first.fetch(`${base}/a.png`)).length).toBe(1000);
    expect(fetcher.reservedBytes).toBe(1000);
    // Another 1,000 bytes do not fit while the first request holds its image: it waits, then times out
    // as "busy" (503 with Retry-After), not as a failed download.
    const second = fetcher.downloads();
    await expect(second.fetch(`${base}/b.png`)).rejects.toBeInstanceOf(ImageUrlBusyError);
    second.close();
    first.close();
    expect(fetcher.reservedBytes).toBe(0);
    expect((await fetcher.fetch(`${base}/c.png`)).length).toBe(1000);
    expect(fetcher.reservedBytes).toBe(0);
  });
});
