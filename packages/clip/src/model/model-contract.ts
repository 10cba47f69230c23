import path from 'node:path';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer';
import type { ModelLocation } from '@clip-search/contracts';
import type { ModelManifest } from '@clip-search/contracts';
import { readModelManifest } from './model-manifest-file';
import { requireCatalogModel } from './model-resolver';

/** What a caller needs of a model when the weights run elsewhere (Triton), or not at all (tokenize). */
export interface ModelContract {
  readonly manifest: ModelManifest;
  /** The gzipped BPE merges (the folder's own, or the bundled copy). */
  readonly bpePath: string;
}

/**
 * The selected model's manifest and tokenizer merges without loading or downloading any weights:
 * a local folder's model.json (`CLIP_MODEL_DIR`), or the catalog entry of `CLIP_MODEL`.
 */
export async function resolveModelContract(
  config: Pick<ModelLocation, 'modelDir' | 'modelName'>,
): Promise<ModelContract> {
  if (config.modelDir !== undefined) {
    const { manifest, bpeFile } = await readModelManifest(config.modelDir);
    return {
      manifest,
      bpePath: bpeFile === undefined ? ClipTokenizer.bundledBpePath : path.join(config.modelDir, bpeFile),
    };
  }
  const entry = requireCatalogModel(config.modelName);
  return { manifest: { ...entry.manifest, sha256: {} }, bpePath: ClipTokenizer.bundledBpePath };
}
