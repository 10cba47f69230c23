import net from 'node:net';
import { z } from 'zod';

/**
 * One environment variable: its name, default, meaning and parser. The list of these is the single
 * source for validation, for `clip-search config`, and for the README's table (a test checks the README).
 */
export interface EnvVar<T, D extends string | undefined = string | undefined> {
  readonly name: string;
  /** The default as the user would write it; undefined = unset is allowed and means "none". */
  readonly default: D;
  readonly description: string;
  readonly schema: z.ZodType<T>;
}

export function envVar<T, D extends string | undefined>(
  name: string,
  defaultValue: D,
  description: string,
  schema: z.ZodType<T>,
): EnvVar<T, D> {
  return { name, default: defaultValue, description, schema };
}

export const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const bool = () =>
  z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const nonEmpty = () => z.string().trim().min(1, 'must not be empty');

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.string().trim().pipe(z.enum(values));

/** A comma-separated list; empty items are dropped. */
export const list = () =>
  z.string().transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );

export const url = (protocols: readonly string[]) =>
  z
    .string()
    .trim()
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol.replace(/:$/, ''));
        } catch {
          return false;
        }
      },
      `must be a URL (${protocols.join(', ')})`,
    );

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
export const trustProxy = () =>
  z
    .string()
    .trim()
    .transform((value, ctx): boolean | number | string[] => {
      const lower = value.toLowerCase();
      if (lower === 'false') return false;
      if (lower === 'true') return true;
      if (/^\d+$/.test(value)) return Number(value);
      const items = value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      const bad = items.filter((item) => !isProxyAddress(item));
      if (items.length === 0 || bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `must be true, false, a hop count, or addresses/CIDRs/${PROXY_RANGE_NAMES.join('/')} (bad: ${bad.join(', ')})`,
        });
        return z.NEVER;
      }
      return items;
    });

/** A rate in requests per second: fractions allowed (0.5 = one every two seconds), 0 = no limit. */
export const perSecond = () =>
  z
    .string()
    .trim()
    .regex(/^\d+(?:\.\d+)?$/, 'must be a number, 0 or more')
    .transform(Number)
    .pipe(z.number().min(0).max(1_000_000));
