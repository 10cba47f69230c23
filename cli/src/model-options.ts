import { loadConfig, type AppConfig } from '@clip-search/config';
import { resolveModelContract, type ModelContract } from '@clip-search/clip/model';

/** The shared `--model-dir DIR` flag; it overrides CLIP_MODEL_DIR. */
export const MODEL_DIR_OPTION = { 'model-dir': { type: 'string' } } as const;

/** Validated configuration with the command line's `--model-dir` applied over the environment. */
export function configWithModelDir(modelDir: string | undefined): AppConfig {
  return loadConfig(modelDir === undefined ? process.env : { ...process.env, CLIP_MODEL_DIR: modelDir });
}

/**
 * The manifest and merges of the selected model without loading (or downloading) any weights: a local
 * folder's model.json, or the catalog entry of CLIP_MODEL. Enough for tokenize and preprocess.
 */
export function selectedModel(config: AppConfig): Promise<ModelContract> {
  return resolveModelContract(config.embedder);
}
