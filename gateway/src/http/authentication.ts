import { timingSafeEqual } from 'node:crypto';
import {
  API_SCOPES,
  hashApiKey,
  scopesOf,
  type ApiKeyEntry,
  type ApiScope,
  type AppConfig,
} from '@clip-search/config';
import type { Request, RequestHandler, Response } from 'express';
import { closeAfterResponse } from './early-refusal';
import { AuthenticationRequiredError, InsufficientScopeError, InvalidApiKeyError } from './http-errors';

/** The realm of every `WWW-Authenticate` challenge. */
const REALM = 'clip-search';

/** Longer "keys" are refused before hashing (ours are 47 characters). */
const MAX_KEY_LENGTH = 512;

/** Who is calling, as `res.locals` carries it. */
export interface Caller {
  /** `key:<name>` for a key, else `ip:<address>`. */
  readonly client: string;
  readonly scopes: readonly ApiScope[];
}

/**
 * The configured keys, by hash. A presented key is hashed and compared with every configured hash, each
 * with `timingSafeEqual` and without stopping at a match, so the time taken says nothing about which
 * entry (if any) matched.
 */
export class ApiKeyRing {
  private readonly entries: readonly { readonly entry: ApiKeyEntry; readonly digest: Buffer }[];

  constructor(keys: readonly ApiKeyEntry[]) {
    this.entries = keys.map((entry) => ({ entry, digest: Buffer.from(entry.sha256, 'hex') }));
  }

  find(key: string): ApiKeyEntry | undefined {
    const digest = Buffer.from(hashApiKey(key), 'hex');
    let found: ApiKeyEntry | undefined;
    for (const { entry, digest: expected } of this.entries)
      if (timingSafeEqual(digest, expected)) found ??= entry;
    return found;
  }
}

type Presented =
  | { readonly kind: 'none' }
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'malformed'; readonly reason: string };

const BEARER = /^Bearer[ \t]+([^\s,]+)[ \t]*$/i;

/**
 * The key a request carries: `Authorization: Bearer <key>`, else `X-API-Key: <key>`. With both, the
 * standard header wins and the other is ignored: the two are alternatives (OpenAPI `security`), and
 * clients such as Swagger UI or fuzzers may fill in both.
 */
export function presentedKey(req: Request): Presented {
  const authorization = req.get('authorization')?.trim();
  const header = req.get('x-api-key')?.trim();
  let bearer: string | undefined;
  if (authorization !== undefined && authorization !== '') {
    bearer = BEARER.exec(authorization)?.[1];
    if (bearer === undefined)
      return { kind: 'malformed', reason: 'The Authorization header must be `Bearer <key>`' };
  }
  const key = bearer ?? (header === '' ? undefined : header);
  if (key === undefined) return { kind: 'none' };
  if (key.length > MAX_KEY_LENGTH || /[\s,]/.test(key))
    return { kind: 'malformed', reason: 'The API key is not one this server issues' };
  return { kind: 'key', key };
}

/**
 * The caller's address: `req.ip` (which follows TRUST_PROXY behind a proxy), IPv4-mapped IPv6 written
 * as IPv4 so that one client has one id whether the server listens on 0.0.0.0 or ::.
 */
export function clientAddress(req: Request): string {
  const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

/**
 * Served without a key even when keys are on: the probes (an orchestrator has no key), the API's own
 * description (so a client can learn how to authenticate), and /metrics, which Prometheus scrapes
 * without credentials by default and which holds only route templates, statuses, durations and the
 * item count — no request content, no key names. Matched as Express routes (any case, trailing slash).
 */
function isOpen(req: Request): boolean {
  // Any method: a TRACE or POST on an open path is answered 405 (with Allow) by the router, not 401.
  const path = req.path.toLowerCase().replace(/\/+$/, '');
  return (
    path === '/healthz' ||
    path === '/readyz' ||
    path === '/metrics' ||
    path === '/openapi.json' ||
    path === '/docs' ||
    path.startsWith('/docs/')
  );
}

function challenge(error?: string): string {
  return error === undefined ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="${error}"`;
}

/**
 * Identifies the caller before anything reads the body: sets `res.locals.client` and `res.locals.scopes`,
 * and with keys on answers 401 at once to a request without a valid key (the connection is then closed,
 * so an unauthenticated upload is never read). Scopes are checked later, per operation, by
 * `expressAuthentication` (tsoa's `@Security`).
 */
export function authenticate(auth: AppConfig['auth']): RequestHandler {
  const ring = new ApiKeyRing(auth.keys);
  return (req, res, next) => {
    const anonymous = `ip:${clientAddress(req)}`;
    if (auth.mode === 'none') {
      res.locals.client = anonymous;
      res.locals.scopes = API_SCOPES;
      next();
      return;
    }
    const presented = presentedKey(req);
    const entry = presented.kind === 'key' ? ring.find(presented.key) : undefined;
    res.locals.client = entry === undefined ? anonymous : `key:${entry.name}`;
    res.locals.scopes = entry === undefined ? [] : scopesOf(entry.scope);
    if (entry !== undefined || isOpen(req)) {
      next();
      return;
    }
    closeAfterResponse(req, res);
    if (presented.kind === 'none') {
      res.setHeader('WWW-Authenticate', challenge());
      next(
        new AuthenticationRequiredError(
          'This server needs an API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`',
        ),
      );
      return;
    }
    res.setHeader('WWW-Authenticate', challenge('invalid_token'));
    next(
      new InvalidApiKeyError(
        presented.kind === 'malformed' ? presented.reason : 'The API key is not one this server knows',
      ),
    );
  };
}

/** The scopes an operation needs (`@Security('api_key', ['admin'])`), checked against the caller's. */
function authorize(req: Request, scopes: readonly string[], res: Response | undefined): Caller {
  const locals = (res ?? req.res)?.locals;
  const client = locals?.client ?? `ip:${clientAddress(req)}`;
  // Fails closed: a request that did not pass through `authenticate` holds no scope.
  const held: readonly ApiScope[] = locals?.scopes ?? [];
  const missing = scopes.filter((scope) => !(held as readonly string[]).includes(scope));
  if (missing.length === 0) return { client, scopes: held };
  if (held.length === 0) {
    res?.setHeader('WWW-Authenticate', challenge());
    throw new AuthenticationRequiredError('This operation needs an API key');
  }
  res?.setHeader('WWW-Authenticate', `${challenge('insufficient_scope')}, scope="${missing.join(' ')}"`);
  throw new InsufficientScopeError(
    `This key's scope (${held.join(', ')}) does not allow this operation; it needs ${missing.join(', ')}`,
  );
}

/**
 * tsoa's authentication module (`routes.authenticationModule` in tsoa.json): called for each `@Security`
 * alternative of an operation. Identity was settled by `authenticate` before the body was read; this
 * only checks scopes.
 */
export function expressAuthentication(
  req: Request,
  securityName: string,
  scopes: string[] = [],
  res?: Response,
): Promise<Caller> {
  return new Promise((resolve) => {
    if (securityName !== 'api_key' && securityName !== 'bearer')
      throw new Error(`Unknown security scheme '${securityName}' in a controller`);
    resolve(authorize(req, scopes, res));
  });
}
