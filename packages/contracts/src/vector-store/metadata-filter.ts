import { InvalidInputError } from '../errors/clip-search-error';
import {
  type FieldCondition,
  type FilterScalar,
  filterViolation,
  type ItemRecord,
  type Metadata,
  type MetadataFilter,
} from './vector-store';

/**
 * What a MetadataFilter means, in plain code: the reference a store that cannot compile filters (an
 * in-memory one) applies, and that the stores that do compile them (SQL, Milvus expressions) are checked
 * against.
 */

/**
 * Throws the InvalidInputError every store gives for a filter that is not a MetadataFilter within
 * FILTER_LIMITS (the message names the offending field).
 */
export function checkFilter(filter: unknown): asserts filter is MetadataFilter {
  const violation = filterViolation(filter);
  if (violation !== undefined)
    throw new InvalidInputError(
      `filter${violation[0] === '' ? '' : ` on "${violation[0]}"`} ${violation[1]}`,
    );
}

/**
 * Whether `item` passes `filter`: every condition must hold. The key `uri` names the item's source URI
 * (so a metadata field called `uri` cannot be filtered on); every other key names a top-level field of
 * its metadata. Values match with their JSON type (the string "1", the number 1 and `true` differ); a
 * scalar or `{ eq }` is equality, `{ prefix }` holds for strings that start with it, `{ in: [...] }` for
 * any of its values (none for an empty list). An absent field, and an array, object, null or non-finite
 * number in metadata, matches no condition. The filter is assumed well-formed (see checkFilter); a
 * condition of no known shape throws InvalidInputError.
 */
export function matchesFilter(item: ItemRecord, filter: MetadataFilter): boolean {
  for (const [key, condition] of Object.entries(filter)) {
    const value = key === 'uri' ? item.uri : fieldOf(item.metadata, key);
    if (!holds(key, condition, value)) return false;
  }
  return true;
}

/** A top-level field as stores index it: own, enumerable, and a string, finite number or boolean. */
function fieldOf(metadata: Metadata, key: string): FilterScalar | undefined {
  if (!Object.prototype.propertyIsEnumerable.call(metadata, key)) return undefined;
  const value = metadata[key];
  return isFilterScalar(value) ? value : undefined;
}

function holds(key: string, condition: FieldCondition, value: FilterScalar | undefined): boolean {
  const given: unknown = condition;
  if (isFilterScalar(given)) return value === given;
  const operators =
    typeof given === 'object' && given !== null && !Array.isArray(given)
      ? Object.entries(given as Record<string, unknown>)
      : [];
  const [only] = operators;
  if (operators.length === 1 && only !== undefined) {
    const [operator, operand] = only;
    // `===` compares type and value at once, as the stores' (kind, value) index does.
    if (operator === 'eq' && isFilterScalar(operand)) return value === operand;
    if (operator === 'prefix' && typeof operand === 'string')
      return typeof value === 'string' && value.startsWith(operand);
    if (operator === 'in' && Array.isArray(operand) && operand.every(isFilterScalar))
      return value !== undefined && operand.includes(value);
  }
  throw new InvalidInputError(
    `filter on "${key}" must be a string, finite number or boolean, or one of { eq }, { prefix: string }, { in: [...] }`,
  );
}

function isFilterScalar(value: unknown): value is FilterScalar {
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}
