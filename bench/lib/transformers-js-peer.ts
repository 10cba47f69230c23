import fs from 'node:fs';
import path from 'node:path';
// Types only: the package is an ES module, loaded with import() where it runs.
import type { PreTrainedModel, Processor, Tensor } from '@huggingface/transformers' with {
  'resolution-mode': 'import',
};
import type { ResolvedModel } from '@clip-search/contracts';
import { REPO_ROOT } from './shared-data';

/** The peer a Node user would pick for CLIP image embeddings, run the way its documentation shows. */
export interface PeerEmbedder {
  readonly name: string;
  /** Embeds the files batch by batch; resolves to the number of embeddings made. */
  embed(files: readonly string[], batch: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Lays our model folder out as the Hugging Face repository that transformers.js expects: `config.json`,
 * `preprocessor_config.json` with the model's own size, mean and std, and `onnx/vision_model.onnx` a
 * symbolic link to the SAME vision ONNX that clip-search loads (no copy, no other weights). Written
 * under .bench/ at every run so that it follows the model it is given.
 */
function layOutHubFolder(model: ResolvedModel): { root: string; id: string } {
  const root = path.join(REPO_ROOT, '.bench/transformers-js');
  const id = 'clip-search-bench';
  const dir = path.join(root, id);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const { image } = model.manifest;
  const json = (file: string, value: unknown): void => {
    fs.writeFileSync(path.join(dir, file), `${JSON.stringify(value, null, 2)}\n`);
  };
  json('config.json', {
    model_type: 'clip',
    architectures: ['CLIPModel'],
    projection_dim: model.manifest.dim,
  });
  // OpenAI's CLIP preprocessing, as in openai/clip-vit-base-patch32's preprocessor_config.json.
  json('preprocessor_config.json', {
    image_processor_type: 'CLIPImageProcessor',
    do_convert_rgb: true,
    do_resize: true,
    size: { shortest_edge: image.size },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: image.size, width: image.size },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: image.mean,
    image_std: image.std,
  });
  fs.symlinkSync(model.visionPath, path.join(dir, 'onnx/vision_model.onnx'));
  return { root, id };
}

/**
 * @huggingface/transformers on our model from disk, offline: remote models are off (a missing file is
 * an error, never a download) and its file cache is off (nothing is copied into node_modules). Same
 * ONNX Runtime build (onnxruntime-node, one copy in the lockfile) and the same intra-op threads.
 */
export async function loadTransformersJsPeer(model: ResolvedModel, threads: number): Promise<PeerEmbedder> {
  const { AutoProcessor, CLIPVisionModelWithProjection, RawImage, env } =
    await import('@huggingface/transformers');
  const { root, id } = layOutHubFolder(model);
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useFSCache = false;
  env.localModelPath = `${root}/`;
  const options = { local_files_only: true } as const;
  const processor: Processor = await AutoProcessor.from_pretrained(id, options);
  const vision: PreTrainedModel = await CLIPVisionModelWithProjection.from_pretrained(id, {
    ...options,
    device: 'cpu',
    dtype: 'fp32',
    session_options: { intraOpNumThreads: threads },
  });
  const output = model.manifest.image.output;
  return {
    name: `@huggingface/transformers ${env.version}`,
    async embed(files, batch) {
      let made = 0;
      for (let i = 0; i < files.length; i += batch) {
        const images = await Promise.all(files.slice(i, i + batch).map((file) => RawImage.read(file)));
        const inputs = (await processor(images)) as Record<string, Tensor>;
        const outputs = (await vision(inputs)) as Record<string, Tensor | undefined>;
        const embeds = outputs[output];
        if (embeds === undefined) throw new Error(`the peer's model returned no ${output}`);
        made += embeds.normalize(2, -1).dims[0] ?? 0;
      }
      return made;
    },
    async close() {
      await vision.dispose();
    },
  };
}
