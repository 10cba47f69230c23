import {
  findCatalogModel,
  loadConfig,
  resolveModelDir,
  type AppConfig,
  type ModelManifest,
} from '@clip-search/core';
import { UsageError } from './cli-error';

/** The shared `--model-dir DIR` flag; it overrides CLIP_MODEL_DIR. */
export const MODEL_DIR_OPTION = { 'model-dir': { type: 'string' } } as const;

/** Validated configuration with the command line's `--model-dir` applied over the environment. */
export function configWithModelDir(modelDir: string | undefined): AppConfig {
  return loadConfig(modelDir === undefined ? process.env : { ...process.env, CLIP_MODEL_DIR: modelDir });
}

/**
 * The manifest of the selected model without loading (or downloading) any weights: a local folder's
 * model.json, or the catalog entry of CLIP_MODEL. Enough for tokenize and preprocess.
 */
export async function selectedManifest(
  config: AppConfig,
): Promise<{ manifest: Omit<ModelManifest, 'sha256'>; bpePath?: string }> {
  if (config.embedder.modelDir !== undefined) {
    const model = await resolveModelDir(config.embedder.modelDir);
    return { manifest: model.manifest, bpePath: model.bpePath };
  }
  const entry = findCatalogModel(config.embedder.modelName);
  if (entry === undefined) throw new UsageError(`unknown model '${config.embedder.modelName}' (CLIP_MODEL)`);
  return { manifest: entry.manifest };
}
