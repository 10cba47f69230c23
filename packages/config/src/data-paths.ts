import path from 'node:path';

/** The layout of DATA_DIR in embedded mode: one place for the gateway, the CLI and the tools. */
export interface DataPaths {
  /** The embedded vector store (store.db, the index snapshot). */
  readonly vectors: string;
  /** The ingest job table. */
  readonly jobs: string;
  readonly thumbnails: string;
}

export function dataPaths(dataDir: string): DataPaths {
  return {
    vectors: path.join(dataDir, 'vectors'),
    jobs: dataDir,
    thumbnails: path.join(dataDir, 'thumbnails'),
  };
}
