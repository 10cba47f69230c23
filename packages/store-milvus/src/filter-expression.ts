import {
  checkFilter,
  type FilterScalar,
  InvalidInputError,
  type Metadata,
  type MetadataFilter,
} from '@clip-search/contracts';

/**
 * Filters as Milvus boolean expressions, built so that no value a caller chose can change an expression's
 * structure.
 *
 * Values are never compared where they are stored: every item also carries a `filterable` JSON field, a
 * copy of its URI and of the top-level scalars of its metadata in a form of our own. Its keys are the
 * field names in hex (`k` + four hex digits per UTF-16 unit), since Milvus 2.3 reads a JSON path key
 * without unescaping it; its values are strings that carry their JSON type (`s…` a string, `n…` a number,
 * `b0`/`b1` a boolean), so that "1", 1 and true never match one another whatever Milvus's own comparison
 * rules, and `{ prefix }` becomes a range of strings instead of a LIKE pattern (whose wildcard escaping
 * Milvus 2.3 gets wrong). The one place user text still reaches an expression, an id, goes through
 * `quoteString`, whose output is printable ASCII without a quote or backslash of the user's.
 */

/** The JSON field holding each item's filterable copy. */
export const FILTERABLE_FIELD = 'filterable';

/** The key of the item's URI in the filterable copy (metadata keys all start with `k`). */
const URI_KEY = 'u';

/**
 * The escape of `encodeText`: a UTF-16 unit outside the plain set becomes `!` and four hex digits. Every
 * character an encoded string can hold is below `~`, which is what makes a prefix a range.
 */
const ESCAPE = '!';
const ABOVE_ENCODED = '~';

/** What a compiled filter leaves: every item, none (an empty `in`), or those an expression accepts. */
export type CompiledFilter =
  | { readonly kind: 'all' }
  | { readonly kind: 'none' }
  | { readonly kind: 'some'; readonly expression: string };

const ALL: CompiledFilter = { kind: 'all' };
const NONE: CompiledFilter = { kind: 'none' };

/**
 * A Milvus string literal of `value`: printable ASCII stays, anything else (quotes and backslashes
 * included) becomes a `\u` or `\U` escape, which Milvus's parser decodes (Go's strconv.Unquote). A lone
 * surrogate cannot be written (Milvus strings are UTF-8) and is refused with InvalidInputError.
 */
export function quoteString(value: string): string {
  let quoted = '"';
  for (const character of value) {
    const point = character.codePointAt(0) as number;
    if (point >= 0x20 && point < 0x7f && character !== '"' && character !== '\\') quoted += character;
    else if (point >= 0xd800 && point <= 0xdfff)
      throw new InvalidInputError(
        `${JSON.stringify(value)} holds a lone surrogate: Milvus stores text as UTF-8`,
      );
    else if (point <= 0xffff) quoted += `\\u${point.toString(16).padStart(4, '0')}`;
    else quoted += `\\U${point.toString(16).padStart(8, '0')}`;
  }
  return `${quoted}"`;
}

/** Whether `text` holds a UTF-16 surrogate without its pair (which UTF-8, hence Milvus, cannot hold). */
export function hasLoneSurrogate(text: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/**
 * `text` in the filterable copy's alphabet: printable ASCII up to `}` except `"`, `\` and `!` stays, every
 * other UTF-16 unit becomes `!xxxx`. A prefix code: `a` starts with `b` exactly when encodeText(a) starts
 * with encodeText(b) (by UTF-16 units, as String.prototype.startsWith counts).
 */
export function encodeText(text: string): string {
  let encoded = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0x20 && unit <= 0x7d && unit !== 0x22 && unit !== 0x5c && unit !== 0x21)
      encoded += text[i] as string;
    else encoded += `${ESCAPE}${unit.toString(16).padStart(4, '0')}`;
  }
  return encoded;
}

/** A metadata field's key in the filterable copy. */
function fieldKey(name: string): string {
  let key = 'k';
  for (let i = 0; i < name.length; i++) key += name.charCodeAt(i).toString(16).padStart(4, '0');
  return key;
}

/** A scalar as the filterable copy holds it, its JSON type first. */
function encodeScalar(value: FilterScalar): string {
  if (typeof value === 'string') return `s${encodeText(value)}`;
  // String() gives every double its shortest exact form, and -0 the form of 0 (=== finds them equal).
  if (typeof value === 'number') return `n${String(value)}`;
  return value ? 'b1' : 'b0';
}

function isFilterScalar(value: unknown): value is FilterScalar {
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/**
 * The filterable copy of an item: its URI, and the own enumerable top-level scalars of its metadata as
 * given (arrays, objects, null and non-finite numbers are kept in the metadata but match no condition).
 */
export function filterableFields(uri: string, metadata: Metadata): Record<string, string> {
  const fields: Record<string, string> = { [URI_KEY]: encodeScalar(uri) };
  for (const [name, value] of Object.entries(metadata))
    if (isFilterScalar(value)) fields[fieldKey(name)] = encodeScalar(value);
  return fields;
}

/**
 * Compiles a filter (checked first: InvalidInputError for one that is not a MetadataFilter within
 * FILTER_LIMITS). Every condition must hold; `uri` names the item's URI, any other key a metadata field.
 */
export function compileFilter(filter: MetadataFilter | undefined): CompiledFilter {
  if (filter === undefined) return ALL;
  checkFilter(filter);
  const clauses: string[] = [];
  for (const [name, condition] of Object.entries(filter)) {
    const path = `${FILTERABLE_FIELD}[${quoteString(name === 'uri' ? URI_KEY : fieldKey(name))}]`;
    const clause = conditionClause(path, condition);
    if (clause === undefined) return NONE;
    clauses.push(clause);
  }
  if (clauses.length === 0) return ALL;
  return { kind: 'some', expression: clauses.join(' and ') };
}

/** One condition on `path`, or undefined when it can hold for no item. */
function conditionClause(path: string, condition: unknown): string | undefined {
  if (isFilterScalar(condition)) return `${path} == ${quoteString(encodeScalar(condition))}`;
  const operand = condition as { eq?: unknown; prefix?: unknown; in?: unknown };
  if (isFilterScalar(operand.eq)) return `${path} == ${quoteString(encodeScalar(operand.eq))}`;
  if (typeof operand.prefix === 'string') {
    const low = encodeScalar(operand.prefix);
    return `(${path} >= ${quoteString(low)} and ${path} < ${quoteString(low + ABOVE_ENCODED)})`;
  }
  // checkFilter left nothing else: `in` over scalars.
  const values = [...new Set((operand.in as readonly FilterScalar[]).map(encodeScalar))];
  if (values.length === 0) return undefined;
  return `${path} in [${values.map(quoteString).join(', ')}]`;
}

/** `left and right`, either of which may be absent. */
export function bothOf(left: string | undefined, right: string | undefined): string | undefined {
  if (left === undefined) return right;
  if (right === undefined) return left;
  return `(${left}) and (${right})`;
}
