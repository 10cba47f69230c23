import { policyField, rateLimitOf, stateField } from '../src/http/rate-limit';
import { TokenBucketLimiter } from '../src/http/token-bucket';

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

describe('TokenBucketLimiter', () => {
  test('a full bucket allows the burst, then refuses until a token flows back in', () => {
    const clock = manualClock();
    const limiter = new TokenBucketLimiter({ perSecond: 2, burst: 3 }, { now: clock.now });
    expect([1, 2, 3].map(() => limiter.take('a'))).toEqual([
      { allowed: true, remaining: 2, nextTokenMs: 500 },
      { allowed: true, remaining: 1, nextTokenMs: 500 },
      { allowed: true, remaining: 0, nextTokenMs: 500 },
    ]);
    expect(limiter.take('a')).toEqual({ allowed: false, remaining: 0, nextTokenMs: 500 });
    clock.advance(200);
    expect(limiter.take('a')).toMatchObject({ allowed: false, remaining: 0 });
    expect(limiter.take('a').nextTokenMs).toBeCloseTo(300);
    clock.advance(300);
    expect(limiter.take('a')).toMatchObject({ allowed: true, remaining: 0 });
    // Refilled, never beyond the burst.
    clock.advance(60_000);
    expect(limiter.take('a')).toMatchObject({ allowed: true, remaining: 2 });
  });

  test('keys have their own buckets', () => {
    const clock = manualClock();
    const limiter = new TokenBucketLimiter({ perSecond: 1, burst: 1 }, { now: clock.now });
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
    expect(limiter.take('b').allowed).toBe(true);
  });

  test('fractional rates: one token every two seconds', () => {
    const clock = manualClock();
    const limiter = new TokenBucketLimiter({ perSecond: 0.5, burst: 1 }, { now: clock.now });
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a')).toEqual({ allowed: false, remaining: 0, nextTokenMs: 2000 });
    clock.advance(1999);
    expect(limiter.take('a').allowed).toBe(false);
    clock.advance(1);
    expect(limiter.take('a').allowed).toBe(true);
  });

  test('memory stays bounded under many clients: refilled buckets go first, then the least recent', () => {
    const clock = manualClock();
    const limiter = new TokenBucketLimiter({ perSecond: 1, burst: 2 }, { now: clock.now, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) limiter.take(`ip:10.0.${i >> 8}.${i & 255}`);
    expect(limiter.size).toBeLessThanOrEqual(100);

    // A client that keeps coming back stays remembered (its debt is not forgotten) while others churn.
    const busy = new TokenBucketLimiter({ perSecond: 0.001, burst: 1 }, { now: clock.now, maxKeys: 10 });
    expect(busy.take('busy').allowed).toBe(true);
    for (let i = 0; i < 1000; i++) {
      busy.take(`other-${i}`);
      if (i % 5 === 0) expect(busy.take('busy').allowed).toBe(false);
    }
    expect(busy.size).toBeLessThanOrEqual(10);

    // Idle clients whose buckets refilled are dropped when new ones come.
    const idle = new TokenBucketLimiter({ perSecond: 10, burst: 1 }, { now: clock.now, maxKeys: 1000 });
    for (let i = 0; i < 500; i++) idle.take(`old-${i}`);
    expect(idle.size).toBe(500);
    clock.advance(1000);
    idle.take('new');
    expect(idle.size).toBe(1);
  });

  test('refuses a policy that would never refill', () => {
    expect(() => new TokenBucketLimiter({ perSecond: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBucketLimiter({ perSecond: 1, burst: 0 })).toThrow(RangeError);
  });
});

describe('rate-limit classes and header fields', () => {
  test('limited routes are matched as Express routes them', () => {
    expect(rateLimitOf({ method: 'POST', path: '/v1/search' })).toBe('search');
    expect(rateLimitOf({ method: 'POST', path: '/V1/Search/' })).toBe('search');
    expect(rateLimitOf({ method: 'POST', path: '/v1/search/image' })).toBe('search');
    expect(rateLimitOf({ method: 'GET', path: '/v1/items/abc/similar' })).toBe('search');
    expect(rateLimitOf({ method: 'HEAD', path: '/v1/items/abc/similar/' })).toBe('search');
    expect(rateLimitOf({ method: 'POST', path: '/v1/ingest' })).toBe('ingest');
    for (const [method, path] of [
      ['GET', '/v1/search'],
      ['GET', '/v1/ingest'],
      ['GET', '/v1/items/abc'],
      ['GET', '/v1/items/abc/thumbnail'],
      ['DELETE', '/v1/ingest/abc'],
      ['GET', '/healthz'],
    ] as const)
      expect({ method, path, limit: rateLimitOf({ method, path }) }).toEqual({
        method,
        path,
        limit: undefined,
      });
  });

  test('RateLimit-Policy and RateLimit use the structured-field syntax of the current draft', () => {
    expect(policyField('search', { perSecond: 20, burst: 40 })).toBe('"search";q=40;w=2');
    expect(policyField('ingest', { perSecond: 1, burst: 10 })).toBe('"ingest";q=10;w=10');
    expect(policyField('search', { perSecond: 100, burst: 5 })).toBe('"search";q=5;w=1');
    expect(stateField('search', 7, 0)).toBe('"search";r=7;t=0');
    expect(stateField('ingest', 0, 1200)).toBe('"ingest";r=0;t=2');
  });
});
