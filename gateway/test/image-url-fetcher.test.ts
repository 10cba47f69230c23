import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkPublicAddress, embeddedIpv4, parseIpv6 } from '../src/image-url/address-policy';
import {
  ImageUrlFetchError,
  ImageUrlFetcher,
  ImageUrlForbiddenError,
  type ResolvedAddress,
} from '../src/image-url/image-url-fetcher';

describe('checkPublicAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fe80::1',
    'fe80::1%eth0',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::127.0.0.1',
    '64:ff9b::10.0.0.1',
    '64:ff9b::a9fe:a9fe',
    '2002:7f00:1::',
    '2002:c0a8:0101::1',
  ])('refuses %s', (address) => {
    const verdict = checkPublicAddress(address);
    expect(verdict.allowed).toBe(false);
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'allows %s',
    (address) => {
      expect(checkPublicAddress(address)).toEqual({ allowed: true });
    },
  );

  it('refuses what is not an address', () => {
    expect(checkPublicAddress('localhost').allowed).toBe(false);
  });
});

describe('parseIpv6 and embeddedIpv4', () => {
  it('expands :: and dotted tails', () => {
    expect(Array.from(parseIpv6('::1')!)).toEqual([...Array<number>(15).fill(0), 1]);
    expect(Array.from(parseIpv6('1:2:3:4:5:6:7:8')!)).toEqual([
      0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8,
    ]);
    expect(embeddedIpv4(parseIpv6('::ffff:192.168.0.1')!)).toBe('192.168.0.1');
    expect(embeddedIpv4(parseIpv6('2002:0a00:0001::')!)).toBe('10.0.0.1');
    expect(embeddedIpv4(parseIpv6('2001:db8::1')!)).toBeUndefined();
    expect(parseIpv6('not-an-address')).toBeUndefined();
  });
});

/** A local server whose routes the tests define; every request is recorded. */
async function startServer(
  handler: http.RequestListener,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

const PNG_BYTES = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

describe('ImageUrlFetcher', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  const seen: { url: string; host: string | undefined }[] = [];

  beforeAll(async () => {
    server = await startServer((req, res) => {
      seen.push({ url: req.url ?? '', host: req.headers.host });
      const url = new URL(req.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/image.png':
          res.writeHead(200, { 'content-type': 'image/png' }).end(PNG_BYTES);
          return;
        case '/redirect':
          res.writeHead(302, { location: url.searchParams.get('to') ?? '/image.png' }).end();
          return;
        case '/loop':
          res.writeHead(301, { location: '/loop' }).end();
          return;
        case '/missing':
          res.writeHead(404).end('no');
          return;
        case '/big-declared':
          res.writeHead(200, { 'content-length': String(10_000) }).end(Buffer.alloc(10_000));
          return;
        case '/big-chunked':
          // No Content-Length: the size is only known while reading.
          res.writeHead(200);
          for (let i = 0; i < 10; i++) res.write(Buffer.alloc(1000));
          res.end();
          return;
        case '/slow':
          res.writeHead(200);
          res.write(Buffer.alloc(10));
          return; // never ends
        default:
          res.writeHead(500).end();
      }
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const base = () => `http://127.0.0.1:${server.port}`;
  const options = { allowPrivate: false, timeoutMs: 2000, maxBytes: 5000 };

  it('refuses loopback by default, before connecting', async () => {
    const before = seen.length;
    await expect(new ImageUrlFetcher(options).fetch(`${base()}/image.png`)).rejects.toBeInstanceOf(
      ImageUrlForbiddenError,
    );
    await expect(
      new ImageUrlFetcher(options).fetch(`http://[::ffff:127.0.0.1]:${server.port}/image.png`),
    ).rejects.toBeInstanceOf(ImageUrlForbiddenError);
    expect(seen.length).toBe(before);
  });

  it('refuses names that resolve to a refused address', async () => {
    const resolve = (): Promise<ResolvedAddress[]> => Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
    const fetcher = new ImageUrlFetcher({ ...options, resolve });
    await expect(fetcher.fetch(`http://images.example:${server.port}/image.png`)).rejects.toThrow(
      /images\.example → 127\.0\.0\.1/,
    );
  });

  it('refuses names where any resolved address is refused', async () => {
    const resolve = (): Promise<ResolvedAddress[]> =>
      Promise.resolve([
        { address: '8.8.8.8', family: 4 },
        { address: '10.0.0.1', family: 4 },
      ]);
    await expect(
      new ImageUrlFetcher({ ...options, resolve }).fetch('http://mixed.example/x.png'),
    ).rejects.toBeInstanceOf(ImageUrlForbiddenError);
  });

  it('refuses schemes other than http(s)', async () => {
    const fetcher = new ImageUrlFetcher({ ...options, allowPrivate: true });
    await expect(fetcher.fetch('file:///etc/passwd')).rejects.toBeInstanceOf(ImageUrlForbiddenError);
    await expect(fetcher.fetch('ftp://127.0.0.1/x')).rejects.toBeInstanceOf(ImageUrlForbiddenError);
    await expect(fetcher.fetch('not a url')).rejects.toBeInstanceOf(ImageUrlFetchError);
  });

  it('fetches from loopback when private addresses are allowed', async () => {
    const bytes = await new ImageUrlFetcher({ ...options, allowPrivate: true }).fetch(`${base()}/image.png`);
    expect(Buffer.from(bytes).equals(PNG_BYTES)).toBe(true);
  });

  it('connects to the checked address, sending the original host name', async () => {
    // A name the test resolver maps to 127.0.0.1: the request must arrive here, with Host intact.
    const resolve = (): Promise<ResolvedAddress[]> => Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
    const fetcher = new ImageUrlFetcher({ ...options, allowPrivate: true, resolve });
    const bytes = await fetcher.fetch(`http://pinned.example:${server.port}/image.png?x=1`);
    expect(Buffer.from(bytes).equals(PNG_BYTES)).toBe(true);
    expect(seen.at(-1)).toEqual({ url: '/image.png?x=1', host: `pinned.example:${server.port}` });
  });

  it('checks every redirect hop', async () => {
    // Allow 127.0.0.1 only: a redirect to 127.0.0.2 (another loopback address) must be refused.
    const policy = (address: string) =>
      address === '127.0.0.1'
        ? { allowed: true as const }
        : { allowed: false as const, reason: 'not 127.0.0.1' };
    const fetcher = new ImageUrlFetcher({ ...options, policy });
    const ok = await fetcher.fetch(`${base()}/redirect?to=/image.png`);
    expect(Buffer.from(ok).equals(PNG_BYTES)).toBe(true);
    const to = encodeURIComponent(`http://127.0.0.2:${server.port}/image.png`);
    await expect(fetcher.fetch(`${base()}/redirect?to=${to}`)).rejects.toThrow(
      /127\.0\.0\.2.*not 127\.0\.0\.1/,
    );
    const toFile = encodeURIComponent('file:///etc/passwd');
    await expect(fetcher.fetch(`${base()}/redirect?to=${toFile}`)).rejects.toBeInstanceOf(
      ImageUrlForbiddenError,
    );
  });

  it('stops redirect loops', async () => {
    const fetcher = new ImageUrlFetcher({ ...options, allowPrivate: true, maxRedirects: 3 });
    await expect(fetcher.fetch(`${base()}/loop`)).rejects.toThrow(/more than 3 redirects/);
  });

  it('fails on error statuses', async () => {
    const fetcher = new ImageUrlFetcher({ ...options, allowPrivate: true });
    await expect(fetcher.fetch(`${base()}/missing`)).rejects.toThrow(/HTTP 404/);
  });

  it('aborts bodies over the size limit, declared or not', async () => {
    const fetcher = new ImageUrlFetcher({ ...options, allowPrivate: true });
    await expect(fetcher.fetch(`${base()}/big-declared`)).rejects.toThrow(/10000 bytes, more than the 5000/);
    const error: unknown = await fetcher.fetch(`${base()}/big-chunked`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageUrlFetchError);
    expect((error as Error).message).toMatch(/more than the 5000 bytes/);
  });

  it('gives up at the deadline', async () => {
    const fetcher = new ImageUrlFetcher({ ...options, allowPrivate: true, timeoutMs: 300 });
    await expect(fetcher.fetch(`${base()}/slow`)).rejects.toThrow(/no complete answer within 300 ms/);
  });

  it('reports unreachable hosts as fetch failures', async () => {
    const closed = await startServer(() => undefined);
    const port = closed.port;
    await closed.close();
    const fetcher = new ImageUrlFetcher({ ...options, allowPrivate: true });
    await expect(fetcher.fetch(`http://127.0.0.1:${port}/x`)).rejects.toBeInstanceOf(ImageUrlFetchError);
  });
});
