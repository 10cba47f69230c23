import { childPath } from './json-shape';

/**
 * Large payloads (base64 images up to MAX_BODY_BYTES, raw vectors of thousands of numbers) are lifted out
 * of a parsed body before schema validation and taken back, by their path, where the request is mapped.
 * tsoa deep-copies a value through JSON once per union member it tries (`query` is a union, and so is each
 * term): a 20 MB image in a query term was serialized and parsed again seven times, half a second with the
 * event loop blocked, and sixteen 4,096-number vectors cost 300 ms. Validation sees a small placeholder of
 * the same type instead, so every schema rule except the payload's own content still applies; that content
 * is checked where the payload is taken back.
 */

/** Which values are lifted: those under `key` whose length (string or array) is at least `minLength`. */
export interface DetachRule {
  readonly key: string;
  readonly minLength: number;
  /** What validation sees instead: valid for the schema of `key`. */
  readonly placeholder: () => unknown;
}

export class DetachedPayloads {
  private readonly values = new Map<string, unknown>();

  /** Replaces every matching value of `body`; returns how many were lifted. */
  detach(body: unknown, rules: readonly DetachRule[]): number {
    const byKey = new Map(rules.map((rule) => [rule.key, rule]));
    const stack: { value: unknown; path: string }[] = [{ value: body, path: '' }];
    for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
      const { value, path } = entry;
      if (typeof value !== 'object' || value === null) continue;
      if (Array.isArray(value)) {
        value.forEach((item: unknown, i) => {
          if (typeof item === 'object') stack.push({ value: item, path: childPath(path, i) });
        });
        continue;
      }
      const record = value as Record<string, unknown>;
      for (const [key, child] of Object.entries(record)) {
        const rule = byKey.get(key);
        const length = typeof child === 'string' || Array.isArray(child) ? child.length : -1;
        if (rule !== undefined && length >= rule.minLength) {
          const at = childPath(path, key);
          this.values.set(at, child);
          record[key] = rule.placeholder();
        } else if (typeof child === 'object') stack.push({ value: child, path: childPath(path, key) });
      }
    }
    return this.values.size;
  }

  /** The value lifted from `path` (`query[2].vector`), or undefined when none was. */
  take(path: string): unknown {
    return this.values.get(path);
  }
}
