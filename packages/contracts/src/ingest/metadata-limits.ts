import type { Metadata } from '../vector-store/vector-store';

/**
 * What the metadata an ingest request attaches to every item may hold. It is copied into each item of the
 * job, stored once per item and returned with every search hit, so its size multiplies: 2 MB on a
 * 10-image job made a 126 MB store and an 18 MB answer to a k=10 search. With these limits a hit carries
 * at most about 4 KB of it, and a k=1000 page stays within a few MB.
 */
export const METADATA_LIMITS = {
  maxKeys: 32,
  maxKeyChars: 64,
  /** A string value (at any depth). */
  maxStringChars: 1024,
  /** Objects and arrays within the metadata object. */
  maxDepth: 4,
  /** The whole object as UTF-8 JSON. */
  maxBytes: 4096,
} as const;

/** Each way `metadata` breaks METADATA_LIMITS (`[field, message]`), empty when it conforms. */
export function metadataLimitViolations(metadata: Metadata): [field: string, message: string][] {
  const problems: [string, string][] = [];
  const keys = Object.keys(metadata);
  if (keys.length > METADATA_LIMITS.maxKeys)
    problems.push(['metadata', `has ${keys.length} keys; at most ${METADATA_LIMITS.maxKeys} are allowed`]);
  for (const key of keys)
    if (key.length === 0 || key.length > METADATA_LIMITS.maxKeyChars) {
      problems.push(['metadata', `keys must be 1 to ${METADATA_LIMITS.maxKeyChars} characters long`]);
      break;
    }
  const stack: { value: unknown; path: string; depth: number }[] = [
    { value: metadata, path: 'metadata', depth: 0 },
  ];
  for (let entry = stack.pop(); entry !== undefined && problems.length < 5; entry = stack.pop()) {
    const { value, path, depth } = entry;
    if (typeof value === 'string' && value.length > METADATA_LIMITS.maxStringChars)
      problems.push([path, `is longer than ${METADATA_LIMITS.maxStringChars} characters`]);
    if (typeof value !== 'object' || value === null) continue;
    if (depth > METADATA_LIMITS.maxDepth) {
      problems.push([path, `nests deeper than ${METADATA_LIMITS.maxDepth} levels`]);
      continue;
    }
    for (const [key, child] of Object.entries(value))
      stack.push({ value: child as unknown, path: `${path}.${key}`, depth: depth + 1 });
  }
  if (problems.length === 0) {
    const bytes = Buffer.byteLength(JSON.stringify(metadata));
    if (bytes > METADATA_LIMITS.maxBytes)
      problems.push([
        'metadata',
        `is ${bytes} bytes as JSON; at most ${METADATA_LIMITS.maxBytes} are allowed`,
      ]);
  }
  return problems;
}
