import { DataType, type FieldType } from '@zilliz/milvus2-sdk-node';

import { InvalidInputError, ModelMismatchError, type StoreIdentity } from '@clip-search/contracts';
import { FILTERABLE_FIELD } from './filter-expression';

/**
 * What a store's collection looks like: one collection per model, its fields, and the identity (model id
 * and dimension) it records in its description so that a store opened with another one is refused.
 */

export const FIELDS = {
  id: 'id',
  vector: 'vector',
  uri: 'uri',
  contentHash: 'content_hash',
  width: 'width',
  height: 'height',
  modelId: 'model_id',
  ingestedAt: 'ingested_at',
  metadata: 'metadata',
  filterable: FILTERABLE_FIELD,
} as const;

/** The fields of an item record (everything but the vector and the filterable copy). */
export const RECORD_FIELDS: readonly string[] = [
  FIELDS.id,
  FIELDS.uri,
  FIELDS.contentHash,
  FIELDS.width,
  FIELDS.height,
  FIELDS.modelId,
  FIELDS.ingestedAt,
  FIELDS.metadata,
];

/** Milvus's limits on one value: a VarChar's UTF-8 bytes, a JSON value's bytes, an Int32. */
export const VALUE_LIMITS = { varcharBytes: 65_535, jsonBytes: 65_536, int32: 2_147_483_647 } as const;

/** Milvus collection names: a letter or underscore first, then letters, digits and underscores. */
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_NAME_LENGTH = 255;

/** Checks a collection name given as is (MILVUS_COLLECTION, a test's own). */
export function checkCollectionName(name: string): string {
  if (!NAME_PATTERN.test(name) || name.length > MAX_NAME_LENGTH)
    throw new InvalidInputError(
      `Milvus collection name ${JSON.stringify(name)} must be 1 to ${MAX_NAME_LENGTH} letters, digits and underscores, not starting with a digit`,
    );
  return name;
}

/**
 * The collection of a model: `prefix` + the model id with every character Milvus refuses in a name
 * replaced by `_` (`ViT-B/32` → `clip_ViT_B_32`). Two models that differ only there share a name; the
 * identity recorded in the collection's description tells them apart (the second is refused).
 */
export function collectionNameFor(prefix: string, modelId: string): string {
  if (prefix !== '' && !NAME_PATTERN.test(prefix))
    throw new InvalidInputError(
      `Milvus collection prefix ${JSON.stringify(prefix)} must be letters, digits and underscores, not starting with a digit`,
    );
  let name = prefix + modelId.replace(/[^A-Za-z0-9_]/g, '_');
  if (!/^[A-Za-z_]/.test(name)) name = `_${name}`;
  return checkCollectionName(name.slice(0, MAX_NAME_LENGTH));
}

/** The schema of a new collection holding `dim`-d vectors. */
export function collectionFields(dim: number): FieldType[] {
  const varchar = (name: string): FieldType => ({
    name,
    data_type: DataType.VarChar,
    max_length: VALUE_LIMITS.varcharBytes,
  });
  return [
    { ...varchar(FIELDS.id), is_primary_key: true, autoID: false },
    { name: FIELDS.vector, data_type: DataType.FloatVector, dim },
    varchar(FIELDS.uri),
    varchar(FIELDS.contentHash),
    { name: FIELDS.width, data_type: DataType.Int32 },
    { name: FIELDS.height, data_type: DataType.Int32 },
    varchar(FIELDS.modelId),
    varchar(FIELDS.ingestedAt),
    { name: FIELDS.metadata, data_type: DataType.JSON },
    { name: FIELDS.filterable, data_type: DataType.JSON },
  ];
}

/** How a collection records the identity of what it holds (its description). */
const DESCRIPTION_MARK = 'clip-search vector store';

export function describeIdentity(identity: StoreIdentity): string {
  return JSON.stringify({ store: DESCRIPTION_MARK, modelId: identity.modelId, dim: identity.dim });
}

/** The identity a description records, or undefined when the collection is not one of ours. */
export function identityOf(description: string): StoreIdentity | undefined {
  try {
    const parsed = JSON.parse(description) as { store?: unknown; modelId?: unknown; dim?: unknown };
    if (
      parsed.store === DESCRIPTION_MARK &&
      typeof parsed.modelId === 'string' &&
      typeof parsed.dim === 'number'
    )
      return { modelId: parsed.modelId, dim: parsed.dim };
  } catch {
    // Not JSON: someone else's collection.
  }
  return undefined;
}

/** The field list of an existing collection, as describeCollection gives it. */
export interface ExistingField {
  readonly name: string;
  readonly data_type: string;
  readonly type_params?: readonly { readonly key: string; readonly value: string }[];
}

/**
 * Refuses, with ModelMismatchError naming both, a collection that holds vectors of another dimension or
 * model than `wanted`, or that clip-search did not create (another schema).
 */
export function checkExistingCollection(
  name: string,
  description: string,
  fields: readonly ExistingField[],
  wanted: StoreIdentity,
): void {
  const recorded = identityOf(description);
  const vector = fields.find((field) => field.name === FIELDS.vector);
  const dimParam = vector?.type_params?.find((param) => param.key === 'dim')?.value;
  const missing = Object.values(FIELDS).filter((field) => !fields.some((f) => f.name === field));
  if (recorded === undefined || missing.length > 0 || dimParam === undefined)
    throw new ModelMismatchError(
      `Milvus collection "${name}" was not created by clip-search (${missing.length > 0 ? `it lacks the fields ${missing.join(', ')}` : 'its description records no model'}); ` +
        `choose another collection prefix or name for "${wanted.modelId}" (${wanted.dim}-d) vectors`,
    );
  const dim = Number(dimParam);
  if (recorded.modelId !== wanted.modelId || recorded.dim !== wanted.dim || dim !== wanted.dim)
    throw new ModelMismatchError(
      `Milvus collection "${name}" holds ${dim}-d vectors of model "${recorded.modelId}", ` +
        `this store was opened for ${wanted.dim}-d vectors of model "${wanted.modelId}"`,
    );
}
