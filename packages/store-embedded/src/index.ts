// The public surface of @clip-search/store-embedded. Listed name by name: the store's parts (its index
// lifecycle, write queue, search planner…) are internal modules, not API.
export { AnnIndex, type AnnIndexOptions, type AnnIndexState, type AnnMatches } from './ann-index';
export { DamagedStoreError } from './damaged-store-error';
export {
  EmbeddedVectorStore,
  type EmbeddedVectorStoreOptions,
  openEmbeddedVectorStore,
  type SearchPlan,
  STORE_FILE,
  STORE_FORMAT_VERSION,
} from './embedded-vector-store';
export {
  checkSnapshot,
  parseManifest,
  removeOtherSnapshots,
  snapshotFileName,
  type SnapshotManifest,
  writeSnapshot,
} from './index-snapshot';
export { type Candidate, ItemTable, type LabelledVector } from './item-table';
export {
  type CompiledFilter,
  compileFilter,
  FieldKind,
  type FieldRow,
  fieldRows,
  MATCH_ALL,
  type SqlCondition,
} from './metadata-fields';
export { byScoreThenId, innerProduct, type Scored } from './scoring';
export {
  checkEmbeddedStore,
  recoverEmbeddedStore,
  type StoreRecovery,
  type StoreRecoveryOptions,
} from './store-recovery';
