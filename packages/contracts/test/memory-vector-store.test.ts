/**
 * The VectorStore conformance suite on the in-memory reference store: the reference passes what it is the
 * reference for. It has nowhere to persist, so the reopen and restart cases are listed as skipped.
 */
import { MemoryVectorStore, vectorStoreConformance } from '../src/testing';

vectorStoreConformance({
  label: 'MemoryVectorStore (in-memory reference)',
  open: (identity) => Promise.resolve(new MemoryVectorStore(identity)),
});
