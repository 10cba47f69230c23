import type { FieldError } from './http-errors';

/**
 * Structural limits on a parsed JSON body, checked in one cheap pass before schema validation. Schema
 * validation (tsoa) recurses, deep-copies union members and echoes values into its messages: fed a
 * 5,000-deep object, a million-element array or a 29 MB string it overflows the stack, blocks the event loop
 * for seconds or builds a 200 MB error. Nothing here recurses or copies, and it stops at the first few
 * violations.
 */
export interface JsonShapeLimits {
  /** Nesting depth; the body itself is depth 0, its fields depth 1. */
  readonly maxDepth: number;
  /** Values of every kind (objects, arrays, strings, numbers…) in the whole body. */
  readonly maxValues: number;
  readonly maxArrayItems: number;
  readonly maxObjectKeys: number;
  readonly maxStringChars: number;
  /** Object keys whose string values may be as long as the body allows (base64 images). */
  readonly longStringKeys?: ReadonlySet<string>;
}

/** Errors listed before the walk gives up: enough to fix a request, never a flood. */
const MAX_REPORTED = 5;

/** A JSON path as a client writes it: `query[0].vector`, `filter["a b"]`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  const safe = /^[A-Za-z_$][\w$]*$/.test(key) && key.length <= 64;
  const name = safe ? key : JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
  if (parent === '') return safe ? name : `[${name}]`;
  return safe ? `${parent}.${name}` : `${parent}[${name}]`;
}

/**
 * The violations of `limits` in `body` (empty when it conforms), each naming where it is. Iterative, and
 * O(values) with an early exit, so it costs little even on the largest body the size limit lets in.
 */
export function checkJsonShape(body: unknown, limits: JsonShapeLimits): FieldError[] {
  const errors: FieldError[] = [];
  const stack: { value: unknown; path: string; depth: number; key: string | undefined }[] = [
    { value: body, path: '', depth: 0, key: undefined },
  ];
  let values = 0;
  const fail = (field: string, message: string): boolean => {
    errors.push({ field: field === '' ? '(body)' : field, message });
    return errors.length >= MAX_REPORTED;
  };
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const { value, path, depth, key } = entry;
    if (++values > limits.maxValues) {
      fail('(body)', `holds more than ${limits.maxValues} JSON values`);
      break;
    }
    if (typeof value === 'string') {
      const long = key !== undefined && limits.longStringKeys?.has(key) === true;
      if (
        !long &&
        value.length > limits.maxStringChars &&
        fail(path, `is longer than ${limits.maxStringChars} characters`)
      )
        break;
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= limits.maxDepth) {
      if (fail(path, `nests deeper than ${limits.maxDepth} levels`)) break;
      continue;
    }
    if (Array.isArray(value)) {
      if (value.length > limits.maxArrayItems) {
        if (fail(path, `has ${value.length} items; at most ${limits.maxArrayItems} are allowed`)) break;
        continue;
      }
      for (let i = value.length - 1; i >= 0; i--)
        stack.push({ value: value[i] as unknown, path: childPath(path, i), depth: depth + 1, key });
      continue;
    }
    const keys = Object.keys(value);
    if (keys.length > limits.maxObjectKeys) {
      if (fail(path, `has ${keys.length} keys; at most ${limits.maxObjectKeys} are allowed`)) break;
      continue;
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const name = keys[i] as string;
      if (name.length > limits.maxStringChars) {
        if (fail(path, `has a key longer than ${limits.maxStringChars} characters`)) return errors;
        continue;
      }
      stack.push({
        value: (value as Record<string, unknown>)[name],
        path: childPath(path, name),
        depth: depth + 1,
        key: name,
      });
    }
  }
  return errors;
}
