/**
 * Where a model comes from: a local folder, or a catalog model downloaded into a cache. It is the part of
 * an embedder's settings that model resolution reads, declared here so that `model/` needs nothing from
 * the embedder above it (`EmbedderConfig` extends it).
 */
export interface ModelLocation {
  /** A local model folder (`CLIP_MODEL_DIR`); when unset, `modelName` is fetched into `modelCacheDir`. */
  readonly modelDir: string | undefined;
  /** A model from the built-in catalog, downloaded on first use (`CLIP_MODEL`). */
  readonly modelName: string;
  readonly modelCacheDir: string;
}
