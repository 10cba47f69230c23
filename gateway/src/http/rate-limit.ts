import type { AppConfig, RateLimitPolicy } from '@clip-search/config';
import type { Request, RequestHandler } from 'express';
import { closeAfterResponse } from './early-refusal';
import { RateLimitedError } from './http-errors';
import { TokenBucketLimiter, type TokenBucketLimiterOptions } from './token-bucket';

/** The kinds of request that cost a token, each with its own bucket per client. */
export type RateLimitName = keyof AppConfig['rateLimits'];

/**
 * The operations that cost CPU per request: an embedding (search by text or image, "similar") or an
 * ingest job. Reads of items, images and thumbnails are not limited: a result page loads dozens at once,
 * and they are served from disk. Matched as Express routes them (any case, trailing slash), before the
 * routes run, so that the body of a limited request is never read.
 */
const LIMITED_ROUTES: readonly {
  readonly methods: readonly string[];
  readonly path: RegExp;
  readonly limit: RateLimitName;
}[] = [
  { methods: ['POST'], path: /^\/v1\/search(?:\/image)?\/*$/i, limit: 'search' },
  { methods: ['GET', 'HEAD'], path: /^\/v1\/items\/[^/]+\/similar\/*$/i, limit: 'search' },
  { methods: ['POST'], path: /^\/v1\/ingest\/*$/i, limit: 'ingest' },
];

/** Which bucket a request draws from, if any. */
export function rateLimitOf(req: Pick<Request, 'method' | 'path'>): RateLimitName | undefined {
  return LIMITED_ROUTES.find((r) => r.methods.includes(req.method) && r.path.test(req.path))?.limit;
}

/**
 * `RateLimit-Policy` of draft-ietf-httpapi-ratelimit-headers (structured field: a quoted policy name,
 * `q` quota, `w` window in seconds). A token bucket has no fixed window: `q` is the burst and `w` the time
 * it takes to refill from empty.
 */
export function policyField(name: RateLimitName, policy: RateLimitPolicy): string {
  return `"${name}";q=${policy.burst};w=${Math.max(1, Math.ceil(policy.burst / policy.perSecond))}`;
}

/** `RateLimit`: `r` requests left now, `t` seconds until more are available (0: the bucket is full). */
export function stateField(name: RateLimitName, remaining: number, nextTokenMs: number): string {
  return `"${name}";r=${remaining};t=${Math.ceil(nextTokenMs / 1000)}`;
}

/**
 * A token bucket per client (`res.locals.client`: the key's name, or the address) and per kind of
 * request. Runs after `authenticate` and before any body parser. Every limited response carries
 * `RateLimit-Policy` and `RateLimit`; a refused one is a 429 problem with `Retry-After`.
 */
export function rateLimit(
  policies: AppConfig['rateLimits'],
  options: TokenBucketLimiterOptions = {},
): RequestHandler {
  const limiters = new Map<
    RateLimitName,
    { readonly limiter: TokenBucketLimiter; readonly policy: string }
  >();
  for (const name of Object.keys(policies) as RateLimitName[]) {
    const policy = policies[name];
    if (policy.perSecond > 0)
      limiters.set(name, {
        limiter: new TokenBucketLimiter(policy, options),
        policy: policyField(name, policy),
      });
  }
  return (req, res, next) => {
    const name = rateLimitOf(req);
    const limited = name === undefined ? undefined : limiters.get(name);
    if (name === undefined || limited === undefined) {
      next();
      return;
    }
    const { allowed, remaining, nextTokenMs } = limited.limiter.take(res.locals.client);
    res.setHeader('RateLimit-Policy', limited.policy);
    res.setHeader('RateLimit', stateField(name, remaining, nextTokenMs));
    if (allowed) {
      next();
      return;
    }
    const retryAfter = Math.max(1, Math.ceil(nextTokenMs / 1000));
    res.setHeader('Retry-After', String(retryAfter));
    closeAfterResponse(req, res);
    next(new RateLimitedError(`Too many ${name} requests from this client; try again in ${retryAfter} s`));
  };
}
