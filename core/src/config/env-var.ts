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
