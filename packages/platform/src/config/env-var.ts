import net from 'node:net';

/**
 * A variable's parser: the raw text (never empty: unset and empty take the default) to a typed value, or
 * the reason it is not one. Environment values are strings with simple rules, so these are a few lines
 * each rather than a schema library: every command of the CLI validates the environment, and loading one
 * took longer than everything else `clip-search tokenize` does.
 */
export type EnvParser<T> = (
  raw: string,
) => { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const ok = <T>(value: T) => ({ ok: true, value }) as const;
const bad = (message: string) => ({ ok: false, message }) as const;

/**
 * One environment variable: its name, default, meaning and parser. The list of these is the single
 * source for validation, for `clip-search config`, and for the README's table (a test checks the README).
 */
export interface EnvVar<T, D extends string | undefined = string | undefined> {
  readonly name: string;
  /** The default as the user would write it; undefined = unset is allowed and means "none". */
  readonly default: D;
  readonly description: string;
  readonly parse: EnvParser<T>;
}

export function envVar<T, D extends string | undefined>(
  name: string,
  defaultValue: D,
  description: string,
  parse: EnvParser<T>,
): EnvVar<T, D> {
  return { name, default: defaultValue, description, parse };
}

export const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): EnvParser<number> =>
  (raw) => {
    const text = raw.trim();
    if (!/^-?\d+$/.test(text)) return bad('must be a whole number');
    const value = Number(text);
    if (value < min) return bad(`must be ${min} or more`);
    if (value > max) return bad(`must be ${max} or less`);
    return ok(value);
  };

const BOOLEANS: Readonly<Record<string, boolean>> = {
  true: true,
  false: false,
  1: true,
  0: false,
  yes: true,
  no: false,
};

export const bool = (): EnvParser<boolean> => (raw) => {
  const value = BOOLEANS[raw.trim().toLowerCase()];
  return value === undefined ? bad('must be one of true, false, 1, 0, yes, no') : ok(value);
};

export const nonEmpty = (): EnvParser<string> => (raw) => {
  const text = raw.trim();
  return text.length === 0 ? bad('must not be empty') : ok(text);
};

export const oneOf =
  <const T extends readonly [string, ...string[]]>(values: T): EnvParser<T[number]> =>
  (raw) => {
    const text = raw.trim();
    return values.includes(text) ? ok(text as T[number]) : bad(`must be one of ${values.join(', ')}`);
  };

/** A comma-separated list; empty items are dropped. */
export const list = (): EnvParser<string[]> => (raw) =>
  ok(
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );

export const url =
  (protocols: readonly string[]): EnvParser<string> =>
  (raw) => {
    const text = raw.trim();
    let protocol: string;
    try {
      protocol = new URL(text).protocol.replace(/:$/, '');
    } catch {
      return bad(`must be a URL (${protocols.join(', ')})`);
    }
    return protocols.includes(protocol) ? ok(text) : bad(`must be a URL (${protocols.join(', ')})`);
  };

/** Text matching `pattern` (trimmed), with `message` when it does not. */
export const matching =
  (pattern: RegExp, message: string): EnvParser<string> =>
  (raw) => {
    const text = raw.trim();
    return pattern.test(text) ? ok(text) : bad(message);
  };

/** Names proxy-addr (Express `trust proxy`) knows for its address ranges. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** An address, a CIDR subnet, or a range name, as Express's `trust proxy` list takes them. */
function isProxyAddress(text: string): boolean {
  if (PROXY_RANGE_NAMES.includes(text)) return true;
  const [address = '', prefix, ...rest] = text.split('/');
  const family = net.isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** Express's `trust proxy`: a boolean, a hop count, or the proxies' addresses, subnets or range names. */
export const trustProxy = (): EnvParser<boolean | number | string[]> => (raw) => {
  const value = raw.trim();
  const lower = value.toLowerCase();
  if (lower === 'false') return ok(false);
  if (lower === 'true') return ok(true);
  if (/^\d+$/.test(value)) return ok(Number(value));
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const wrong = items.filter((item) => !isProxyAddress(item));
  if (items.length === 0 || wrong.length > 0)
    return bad(
      `must be true, false, a hop count, or addresses/CIDRs/${PROXY_RANGE_NAMES.join('/')} (bad: ${wrong.join(', ')})`,
    );
  return ok(items);
};

/** A rate in requests per second: fractions allowed (0.5 = one every two seconds), 0 = no limit. */
export const perSecond = (): EnvParser<number> => (raw) => {
  const text = raw.trim();
  if (!/^\d+(?:\.\d+)?$/.test(text)) return bad('must be a number, 0 or more');
  const value = Number(text);
  return value > 1_000_000 ? bad('must be 1000000 or less') : ok(value);
};
