/**
 * Puts the configured CLIP model's two ONNX files where Triton looks for them:
 *
 *   <repo>/clip_vision/<version>/model.onnx   ← the manifest's image.file
 *   <repo>/clip_text/<version>/model.onnx     ← the manifest's text.file
 *
 *   pnpm exec tsx triton-model-repo/place-models.ts [--model-dir DIR] [--repo DIR] [--version N] [--copy]
 *
 * The model is `--model-dir`, else the project's configuration (CLIP_MODEL_DIR, or the catalog model
 * CLIP_MODEL, downloaded into MODEL_CACHE_DIR on first use). Before placing anything, each config.pbtxt is
 * checked against the model's manifest (names, datatypes, dims, embedding width): a repository Triton
 * would serve but clip-search would refuse is reported here instead. Files are hard-linked (no copy of
 * 600 MB) when on the same file system, copied otherwise or with --copy. The version folders are
 * git-ignored (`triton-model-repo/*\/1/`): weights are never committed.
 */
import { copyFile, link, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '@clip-search/config';
import type { ResolvedModel } from '@clip-search/contracts';
import { resolveModel, resolveModelDir } from '@clip-search/clip';
import { checkTowerConfig, MODEL_REPO_DIR, readTowerConfig, type Tower, TOWER_MODELS } from './repo-config';

export interface PlaceModelsOptions {
  readonly model: ResolvedModel;
  readonly repoDir: string;
  /** Triton model version folder (default 1). */
  readonly version?: number;
  /** Copy instead of hard-linking. */
  readonly copy?: boolean;
}

export interface PlacedFile {
  readonly tower: Tower;
  readonly from: string;
  readonly to: string;
  readonly how: 'link' | 'copy';
}

export class ModelRepoMismatchError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`The model repository does not fit the model:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Checks both configs against the manifest, then links or copies the two ONNX files into place. */
export async function placeModels(options: PlaceModelsOptions): Promise<PlacedFile[]> {
  const { model, repoDir } = options;
  const version = options.version ?? 1;
  const towers: Tower[] = ['vision', 'text'];
  const problems = towers.flatMap((tower) =>
    checkTowerConfig(
      readTowerConfig(repoDir, TOWER_MODELS[tower]),
      model.manifest,
      tower,
      TOWER_MODELS[tower],
    ),
  );
  if (problems.length > 0) throw new ModelRepoMismatchError(problems);

  const placed: PlacedFile[] = [];
  for (const tower of towers) {
    const from = tower === 'vision' ? model.visionPath : model.textPath;
    const dir = path.join(repoDir, TOWER_MODELS[tower], String(version));
    const to = path.join(dir, 'model.onnx');
    await mkdir(dir, { recursive: true });
    await rm(to, { force: true });
    let how: 'link' | 'copy' = 'copy';
    if (!options.copy) {
      try {
        await link(from, to);
        how = 'link';
      } catch {
        // Another file system (EXDEV) or no hard links there: copy.
      }
    }
    if (how === 'copy') await copyFile(from, to);
    placed.push({ tower, from, to, how });
  }
  return placed;
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'model-dir': { type: 'string' },
      repo: { type: 'string' },
      version: { type: 'string', default: '1' },
      copy: { type: 'boolean', default: false },
    },
  });
  const version = Number(values.version);
  if (!Number.isInteger(version) || version < 1) throw new Error(`--version must be a positive integer`);
  const modelDir = values['model-dir'];
  let model: ResolvedModel;
  if (modelDir !== undefined) {
    model = await resolveModelDir(modelDir);
  } else {
    const config = loadConfig();
    model = await resolveModel(config.embedder, { hubEndpoint: config.embedder.hubEndpoint });
  }
  const repoDir = path.resolve(values.repo ?? MODEL_REPO_DIR);
  const placed = await placeModels({ model, repoDir, version, copy: values.copy });
  for (const file of placed) {
    process.stdout.write(`${file.tower}: ${file.to} (${file.how} of ${file.from})\n`);
  }
  process.stdout.write(`model '${model.manifest.name}' placed in ${repoDir} (version ${version})\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`place-models: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
