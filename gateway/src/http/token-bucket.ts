import { performance } from 'node:perf_hooks';

/** Refill rate and capacity of every bucket of a limiter. */
export interface TokenBucketPolicy {
  /** Tokens added per second (fractions allowed); must be > 0. */
  readonly perSecond: number;
  /** The most tokens a bucket holds: how many requests may come at once. */
  readonly burst: number;
}

/** The verdict on one request, with what the RateLimit headers report. */
export interface TakeResult {
  readonly allowed: boolean;
  /** Whole tokens left after this request. */
  readonly remaining: number;
  /** Milliseconds until the next whole token; 0 when the bucket is full. */
  readonly nextTokenMs: number;
}

export interface TokenBucketLimiterOptions {
  /** Most clients remembered at once (default 10,000; each costs ~100 bytes). */
  readonly maxKeys?: number;
  /** A monotonic clock in milliseconds (tests pass their own). */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * One token bucket per key (a client id). A bucket is stored only while it is not full: a full bucket
 * and a missing one behave the same, so idle clients cost nothing once refilled. The map is kept in
 * least-recently-used order and capped at `maxKeys`: when a new client comes, full buckets at the old
 * end are dropped, and at capacity the least recent client is forgotten (it gets a fresh bucket next
 * time — the price of bounded memory under a flood of addresses). Amortized O(1) per request.
 */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(
    readonly policy: TokenBucketPolicy,
    options: TokenBucketLimiterOptions = {},
  ) {
    if (!(policy.perSecond > 0) || !(policy.burst >= 1))
      throw new RangeError(`a token bucket needs perSecond > 0 and burst >= 1`);
    this.maxKeys = Math.max(1, options.maxKeys ?? 10_000);
    this.now = options.now ?? (() => performance.now());
  }

  /** Clients currently remembered. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token from `key`'s bucket if it has one. */
  take(key: string): TakeResult {
    const now = this.now();
    const { perSecond, burst } = this.policy;
    const stored = this.buckets.get(key);
    let tokens = burst;
    if (stored === undefined) this.makeRoom(now);
    else {
      tokens = this.level(stored, now);
      this.buckets.delete(key); // re-inserted below: the map's order is least recently used first
    }
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    if (tokens < burst) this.buckets.set(key, { tokens, at: now });
    const missing = Math.floor(tokens) + 1 - tokens; // to the next whole token
    return {
      allowed,
      remaining: Math.floor(tokens),
      nextTokenMs: tokens >= burst ? 0 : (Math.min(missing, burst - tokens) * 1000) / perSecond,
    };
  }

  private level(bucket: Bucket, now: number): number {
    const elapsed = Math.max(0, now - bucket.at);
    return Math.min(this.policy.burst, bucket.tokens + (elapsed * this.policy.perSecond) / 1000);
  }

  /** Before adding a key at capacity: drop full buckets from the old end, then the oldest if need be. */
  private makeRoom(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.buckets.size < this.maxKeys && this.level(bucket, now) < this.policy.burst) return;
      this.buckets.delete(key);
    }
  }
}
