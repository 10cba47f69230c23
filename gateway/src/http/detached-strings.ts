/**
 * Large string payloads (base64 images, up to MAX_BODY_BYTES) are lifted out of a parsed body before schema
 * validation and put back by the controller. tsoa deep-copies a value through JSON once per union member it
 * tries (`query` is a union, and so is each term), so a 20 MB image in a query term was serialized and
 * parsed again seven times: half a second with the event loop blocked. Validation sees a short placeholder
 * instead, which is a string like the payload, so every schema rule except the payload's content still
 * applies; the content is checked by the base64 decoder.
 */

/** Never valid base64 or text a client means (it starts with NUL), so it cannot be confused with one. */
const PLACEHOLDER = '\u0000detached:';

/** Strings shorter than this stay where they are: copying them is cheap. */
const MIN_DETACHED_CHARS = 64 * 1024;

export class DetachedStrings {
  private readonly values: string[] = [];

  /** Replaces every long string under one of `keys` (at any depth) with a placeholder; returns the count. */
  detach(body: unknown, keys: ReadonlySet<string>): number {
    const stack: unknown[] = [body];
    for (let value = stack.pop(); value !== undefined; value = stack.pop()) {
      if (typeof value !== 'object' || value === null) continue;
      if (Array.isArray(value)) {
        stack.push(...(value as unknown[]));
        continue;
      }
      const record = value as Record<string, unknown>;
      for (const [key, child] of Object.entries(record)) {
        if (keys.has(key) && typeof child === 'string' && child.length >= MIN_DETACHED_CHARS) {
          record[key] = `${PLACEHOLDER}${this.values.length}`;
          this.values.push(child);
        } else if (typeof child === 'object') stack.push(child);
      }
    }
    return this.values.length;
  }

  /** The original of a placeholder made by this request; any other string is returned as it is. */
  resolve(text: string): string {
    if (!text.startsWith(PLACEHOLDER)) return text;
    return this.values[Number(text.slice(PLACEHOLDER.length))] ?? text;
  }
}
