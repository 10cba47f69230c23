export interface Health {
  status: 'ok';
}

export interface ComponentStatus {
  ok: boolean;
  detail?: string;
}

export interface ReadyStatus {
  status: 'ready';
  embedder: ComponentStatus;
  store: ComponentStatus;
}

export interface JobCounts {
  queued: number;
  active: number;
  completed: number;
  failed: number;
  cancelled: number;
}

export interface Stats {
  /** Items in the vector store. */
  items: number;
  model: {
    id: string;
    dim: number;
    imageSize: number;
    contextLength: number;
  };
  /** `onnx` (in-process) or `triton`. */
  embedderBackend: string;
  /** `embedded` or `milvus`. */
  storeKind: string;
  /** Recent jobs by state. */
  jobs: JobCounts;
}
