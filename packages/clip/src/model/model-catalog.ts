import { CLIP_MEAN, CLIP_STD } from '../image/clip-normalization';
import type { ModelManifest } from '@clip-search/contracts';

/** One file of a catalog model, as it sits in its Hugging Face repository. */
export interface CatalogFile {
  /** Path inside the repository, e.g. `onnx/vision_model.onnx`. */
  readonly repoPath: string;
  /**
   * Expected SHA-256. When absent, the digest is taken from the hub's LFS metadata for the pinned
   * revision at download time (still verified, but trusting the hub instead of this file).
   */
  readonly sha256?: string;
  /** Size in bytes, when known: for the progress bar before the server says. */
  readonly size?: number;
}

/** A model the project can fetch by name (`CLIP_MODEL`). */
export interface CatalogModel {
  /** The catalog key, also the cache folder's name: `<modelCacheDir>/<name>/`. */
  readonly name: string;
  readonly description: string;
  /** Hugging Face repository, `owner/name`. */
  readonly repo: string;
  /** A commit of that repository: what is downloaded never changes under us. */
  readonly revision: string;
  readonly vision: CatalogFile;
  readonly text: CatalogFile;
  /** The manifest written into the cache folder; `image.file`/`text.file` are the local file names. */
  readonly manifest: Omit<ModelManifest, 'sha256'>;
}

/**
 * OpenAI CLIP ViT-B/32 as exported to ONNX for Transformers.js (Xenova/clip-vit-base-patch32, MIT):
 * two float32 towers that already apply the projections, 512-d outputs, unnormalized.
 *
 * Pinned to commit d15189d7: the SHA-256 digests and sizes below are the ones published for that
 * revision by two unrelated projects that vendor it (they agree byte for byte). Pinning them here, rather
 * than trusting the hub's LFS metadata at download time, means a compromised or re-written hub/mirror
 * cannot hand us other weights: the digest comes from this source tree, not from the server we fetch from.
 *
 * The text tower of this export is believed to take `input_ids` only (optimum's CLIP text config); if a
 * re-export also takes `attention_mask`, OnnxInferenceBackend feeds one (it adopts that one conventional
 * extra input and rejects any other unknown input at load).
 */
const CLIP_VIT_B_32: CatalogModel = {
  name: 'clip-vit-base-patch32',
  description: 'OpenAI CLIP ViT-B/32 (ONNX export by Xenova, float32), 512-d, ~606 MB',
  repo: 'Xenova/clip-vit-base-patch32',
  revision: 'd15189d7028b43f1d3e65039190477f6af591c2a',
  vision: {
    repoPath: 'onnx/vision_model.onnx',
    sha256: 'fd6e1402a588279d1723c7534d4bcba5bc0b14b47dfab0e46f8c47b8270d7d40',
    size: 351_685_709,
  },
  text: {
    repoPath: 'onnx/text_model.onnx',
    sha256: '3f6571f5bad13a97c469c1622e1cfc4d9aef78b79fdbfcff804ca357bfada8cc',
    size: 254_058_553,
  },
  manifest: {
    name: 'openai/clip-vit-base-patch32',
    dim: 512,
    image: {
      file: 'vision_model.onnx',
      input: 'pixel_values',
      output: 'image_embeds',
      size: 224,
      mean: CLIP_MEAN,
      std: CLIP_STD,
    },
    text: {
      file: 'text_model.onnx',
      input: 'input_ids',
      output: 'text_embeds',
      contextLength: 77,
      padId: 0,
    },
  },
};

/** The built-in catalog; `DEFAULT_MODEL_NAME` is what `CLIP_MODEL` defaults to. */
export const MODEL_CATALOG: readonly CatalogModel[] = [CLIP_VIT_B_32];
export const DEFAULT_MODEL_NAME = CLIP_VIT_B_32.name;

export function findCatalogModel(
  name: string,
  catalog: readonly CatalogModel[] = MODEL_CATALOG,
): CatalogModel | undefined {
  return catalog.find((m) => m.name === name);
}
