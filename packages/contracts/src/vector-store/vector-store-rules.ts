import { InvalidInputError, ModelMismatchError } from '../errors/clip-search-error';
import type { SearchRequest, VectorItem } from './vector-store';

/**
 * The rules every VectorStore enforces, whatever its backend, so that the embedded store and a Milvus one
 * refuse the same things with the same errors. Inputs are checked as untrusted: items and requests may
 * come from JSON.
 */

/** The deepest result a search may ask for (offset + k), as search engines cap their result window. */
export const MAX_RESULT_WINDOW = 10_000;

/** How far from 1 a stored or query vector's L2 norm may be (float32 rounding of normalized embeddings). */
export const NORM_TOLERANCE = 1e-3;

/** What a store holds: vectors of one model, of one dimension. */
export interface StoreIdentity {
  readonly modelId: string;
  readonly dim: number;
}

/** Whether `vector` has unit length within NORM_TOLERANCE (false for non-finite components). */
export function isUnitVector(vector: Float32Array): boolean {
  let norm = 0;
  for (const x of vector) norm += x * x;
  return Number.isFinite(norm) && Math.abs(Math.sqrt(norm) - 1) <= NORM_TOLERANCE;
}

/** A Float32Array of the store's dimension with unit length, or the error that says what is wrong. */
export function checkVector(given: unknown, what: string, dim: number): asserts given is Float32Array {
  // By tag, not instanceof: a Float32Array from another realm (a worker, a VM context) is fine too.
  if (Object.prototype.toString.call(given) !== '[object Float32Array]')
    throw new InvalidInputError(`${what} must be a Float32Array`);
  const vector = given as Float32Array;
  if (vector.length !== dim)
    throw new ModelMismatchError(
      `${what} has ${vector.length} dimensions, this store holds ${dim}-d vectors`,
    );
  let norm = 0;
  for (const x of vector) norm += x * x;
  if (!Number.isFinite(norm)) throw new InvalidInputError(`${what} has non-finite components`);
  if (Math.abs(Math.sqrt(norm) - 1) > NORM_TOLERANCE)
    throw new InvalidInputError(`${what} must be L2-normalized (its norm is ${Math.sqrt(norm).toFixed(4)})`);
}

/** An item to upsert: every field of VectorItem of the right type, the store's model, a unit vector. */
export function checkItem(given: unknown, store: StoreIdentity): asserts given is VectorItem {
  if (typeof given !== 'object' || given === null) throw new InvalidInputError('each item must be an object');
  const item = given as Partial<Record<keyof VectorItem, unknown>>;
  if (typeof item.id !== 'string' || item.id.length === 0)
    throw new InvalidInputError('item id must be a non-empty string');
  const where = `item "${item.id}"`;
  if (item.modelId !== store.modelId)
    throw new ModelMismatchError(
      `${where} was embedded with model ${typeof item.modelId === 'string' ? `"${item.modelId}"` : '(none)'}, ` +
        `this store holds "${store.modelId}" vectors`,
    );
  for (const field of ['uri', 'contentHash', 'ingestedAt'] as const)
    if (typeof item[field] !== 'string') throw new InvalidInputError(`${where}: ${field} must be a string`);
  for (const field of ['width', 'height'] as const) {
    const size = item[field];
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0)
      throw new InvalidInputError(`${where}: ${field} must be a non-negative integer`);
  }
  const metadata = item.metadata;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
    throw new InvalidInputError(`${where}: metadata must be a JSON object`);
  try {
    JSON.stringify(metadata);
  } catch (error) {
    throw new InvalidInputError(`${where}: metadata is not JSON-serializable`, { cause: error });
  }
  checkVector(item.vector, `${where} vector`, store.dim);
}

/** A search's vector, page and `minScore` (the filter is checked where it is compiled: filterViolation). */
export function checkSearchRequest(request: SearchRequest, dim: number): void {
  const { vector, k, offset = 0, minScore } = request;
  checkVector(vector, 'search vector', dim);
  if (!Number.isInteger(k) || k < 1) throw new InvalidInputError('k must be a positive integer');
  if (!Number.isInteger(offset) || offset < 0)
    throw new InvalidInputError('offset must be a non-negative integer');
  if (offset + k > MAX_RESULT_WINDOW)
    throw new InvalidInputError(`offset + k must be at most ${MAX_RESULT_WINDOW}`);
  if (minScore !== undefined && (typeof minScore !== 'number' || !Number.isFinite(minScore)))
    throw new InvalidInputError('minScore must be a finite number');
}
