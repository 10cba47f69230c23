import { InvalidInputError } from '@clip-search/contracts';
import {
  filterViolation,
  type FilterScalar,
  type Metadata,
  type MetadataFilter,
} from '@clip-search/contracts';

/**
 * How filterable values are stored and matched. Every top-level scalar of an item's metadata becomes one row
 * of `item_fields (label, key, kind, value)`, indexed on (key, kind, value), so an equality, `in` or prefix
 * condition is an index range instead of parsing every item's JSON. `kind` keeps types apart the way JSON
 * does: the string "1", the number 1 and `true` never match one another. Arrays, objects and null are kept in
 * the item's metadata but are not filterable.
 */
export const FieldKind = { String: 0, Number: 1, Boolean: 2 } as const;
export type FieldKind = (typeof FieldKind)[keyof typeof FieldKind];

export interface FieldRow {
  readonly key: string;
  readonly kind: FieldKind;
  readonly value: string | number;
}

/** The filterable rows of one item's metadata. */
export function fieldRows(metadata: Metadata): FieldRow[] {
  const rows: FieldRow[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    const stored = storedScalar(value);
    if (stored) rows.push({ key, ...stored });
  }
  return rows;
}

function scalarField(value: FilterScalar): { kind: FieldKind; value: string | number } {
  if (typeof value === 'string') return { kind: FieldKind.String, value };
  if (typeof value === 'number') return { kind: FieldKind.Number, value };
  return { kind: FieldKind.Boolean, value: value ? 1 : 0 };
}

function storedScalar(value: unknown): { kind: FieldKind; value: string | number } | undefined {
  switch (typeof value) {
    case 'string':
      return { kind: FieldKind.String, value };
    case 'number':
      return Number.isFinite(value) ? { kind: FieldKind.Number, value } : undefined;
    case 'boolean':
      return { kind: FieldKind.Boolean, value: value ? 1 : 0 };
    case 'bigint':
    case 'function':
    case 'object':
    case 'symbol':
    case 'undefined':
      return undefined;
  }
}

/** A SQL condition on the `items` table aliased `i`, with its positional parameters. */
export interface SqlCondition {
  readonly sql: string;
  readonly params: readonly (string | number)[];
}

/**
 * One filter in the two shapes SQLite plans well: `select` drives a query from the field index (to count or
 * list the matching items), `probe` checks given items one by one through the (label, key) primary key (to
 * filter ANN candidates without materializing every match of a broad filter).
 */
export interface CompiledFilter {
  /** True when the filter has no condition: every item matches. */
  readonly matchesAll: boolean;
  readonly select: SqlCondition;
  readonly probe: SqlCondition;
}

const TRUE: SqlCondition = { sql: '1', params: [] };
const FALSE: SqlCondition = { sql: '0', params: [] };

export const MATCH_ALL: CompiledFilter = { matchesAll: true, select: TRUE, probe: TRUE };

/**
 * Compiles a filter: every condition must hold. `uri` names the item's source URI (so a metadata field
 * called `uri` cannot be filtered on); every other key names a top-level metadata field.
 * Throws InvalidInputError for a malformed filter.
 */
export function compileFilter(filter: MetadataFilter | undefined): CompiledFilter {
  // Filters come from HTTP requests: their shape is checked here, not trusted.
  const given: unknown = filter;
  if (given === undefined) return MATCH_ALL;
  const violation = filterViolation(given);
  if (violation !== undefined)
    throw new InvalidInputError(
      `filter${violation[0] === '' ? '' : ` on "${violation[0]}"`} ${violation[1]}`,
    );
  const select: SqlCondition[] = [];
  const probe: SqlCondition[] = [];
  for (const [key, condition] of Object.entries(given as Record<string, unknown>)) {
    const parsed = parseCondition(key, condition);
    if (key === 'uri') {
      const onUri = uriCondition(parsed);
      select.push(onUri);
      probe.push(onUri);
    } else {
      const match = fieldMatch(parsed);
      select.push({
        sql: `i.label IN (${match.map((m) => `SELECT f.label FROM item_fields f WHERE f.key = ? AND ${m.sql}`).join(' UNION ALL ')})`,
        params: match.flatMap((m) => [key, ...m.params]),
      });
      probe.push({
        sql: `EXISTS (SELECT 1 FROM item_fields f WHERE f.label = i.label AND f.key = ? AND (${match.map((m) => m.sql).join(' OR ')}))`,
        params: [key, ...match.flatMap((m) => m.params)],
      });
    }
  }
  if (select.length === 0) return MATCH_ALL;
  return { matchesAll: false, select: and(select), probe: and(probe) };
}

function and(conditions: readonly SqlCondition[]): SqlCondition {
  return { sql: conditions.map((c) => c.sql).join(' AND '), params: conditions.flatMap((c) => c.params) };
}

type Parsed =
  | { readonly op: 'eq'; readonly value: FilterScalar }
  | { readonly op: 'prefix'; readonly value: string }
  | { readonly op: 'in'; readonly values: readonly FilterScalar[] };

function parseCondition(key: string, condition: unknown): Parsed {
  if (isScalar(condition)) return { op: 'eq', value: condition };
  if (typeof condition === 'object' && condition !== null && !Array.isArray(condition)) {
    const operator = condition as Partial<Record<'eq' | 'prefix' | 'in', unknown>>;
    if (Object.keys(operator).length === 1) {
      if (isScalar(operator.eq)) return { op: 'eq', value: operator.eq };
      if (typeof operator.prefix === 'string') return { op: 'prefix', value: operator.prefix };
      const values = operator.in;
      if (Array.isArray(values) && values.every(isScalar)) return { op: 'in', values };
    }
  }
  throw new InvalidInputError(
    `filter on "${key}" must be a string, finite number or boolean, or one of { eq }, { prefix: string }, { in: [...] }`,
  );
}

function isScalar(value: unknown): value is FilterScalar {
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/**
 * Strings sort by their UTF-8 bytes in SQLite (BINARY collation), which is code point order, so every string
 * that starts with `prefix` lies in [prefix, prefixEnd(prefix)): an index range. The test on the first bytes
 * makes the match exact however the range is evaluated; it compares bytes because SQLite's `length` and
 * `substr` stop at the first U+0000 of a text, and a prefix holding one would then match nothing.
 */
function prefixRange(column: string, prefix: string): SqlCondition {
  // Every string starts with '' (and `substr` of an empty BLOB is NULL, not an empty one).
  if (prefix === '') return { sql: `${column} >= ?`, params: [''] };
  const startsWith = `substr(CAST(${column} AS BLOB), 1, length(CAST(? AS BLOB))) = CAST(? AS BLOB)`;
  const end = prefixEnd(prefix);
  return end === undefined
    ? { sql: `(${column} >= ? AND ${startsWith})`, params: [prefix, prefix, prefix] }
    : { sql: `(${column} >= ? AND ${column} < ? AND ${startsWith})`, params: [prefix, end, prefix, prefix] };
}

/**
 * The least string above every string that starts with `prefix`, in code point order: its last code point
 * below U+10FFFF raised by one (the ones after it dropped); none when there is no such code point.
 */
function prefixEnd(prefix: string): string | undefined {
  const characters = Array.from(prefix);
  for (let last = characters.pop(); last !== undefined; last = characters.pop()) {
    const code = last.codePointAt(0) as number;
    // Surrogates are not characters: the code point after U+D7FF is U+E000.
    if (code < 0x10ffff)
      return characters.join('') + String.fromCodePoint(code === 0xd7ff ? 0xe000 : code + 1);
  }
  return undefined;
}

function uriCondition(parsed: Parsed): SqlCondition {
  switch (parsed.op) {
    case 'eq':
      return typeof parsed.value === 'string' ? { sql: 'i.uri = ?', params: [parsed.value] } : FALSE;
    case 'prefix':
      return prefixRange('i.uri', parsed.value);
    case 'in': {
      const strings = parsed.values.filter((v): v is string => typeof v === 'string');
      if (strings.length === 0) return FALSE;
      return { sql: `i.uri IN (${strings.map(() => '?').join(', ')})`, params: strings };
    }
  }
}

/**
 * Conditions on one `item_fields` row (alias `f`, key already matched), one per kind involved: each is an
 * index range on (key, kind, value). An `in` over no value matches nothing.
 */
function fieldMatch(parsed: Parsed): SqlCondition[] {
  switch (parsed.op) {
    case 'eq': {
      const stored = scalarField(parsed.value);
      return [{ sql: 'f.kind = ? AND f.value = ?', params: [stored.kind, stored.value] }];
    }
    case 'prefix': {
      const range = prefixRange('f.value', parsed.value);
      return [{ sql: `f.kind = ${FieldKind.String} AND ${range.sql}`, params: range.params }];
    }
    case 'in': {
      const byKind = new Map<FieldKind, (string | number)[]>();
      for (const value of parsed.values) {
        const stored = scalarField(value);
        byKind.set(stored.kind, [...(byKind.get(stored.kind) ?? []), stored.value]);
      }
      if (byKind.size === 0) return [{ sql: '0', params: [] }];
      return [...byKind].map(([kind, values]) => ({
        sql: `f.kind = ? AND f.value IN (${values.map(() => '?').join(', ')})`,
        params: [kind, ...values],
      }));
    }
  }
}
