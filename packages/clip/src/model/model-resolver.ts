import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer';
import { ModelLoadError } from '@clip-search/contracts';
import { createDownloadProgress, type DownloadProgress, type ProgressMode } from './download-progress';
import {
  DEFAULT_HUB_ENDPOINT,
  fetchHubFileDigests,
  hubFileUrl,
  type HubFileDigest,
} from './hugging-face-hub';
import { findCatalogModel, MODEL_CATALOG, type CatalogFile, type CatalogModel } from './model-catalog';
import { DownloadError, downloadFile, sha256File } from './model-download';
import type { ModelLocation } from '@clip-search/contracts';
import type { ModelManifest, ResolvedModel } from '@clip-search/contracts';
import { MODEL_MANIFEST_FILE, readModelManifest, toModelManifestFile } from './model-manifest-file';

/** The merges file a model folder may hold; the bundled copy is used when it does not. */
export const BPE_FILE_NAME = 'bpe_simple_vocab_16e6.txt.gz';

export interface ResolveModelOptions {
  /** Base URL of the Hugging Face hub or a mirror (`HF_ENDPOINT`). */
  readonly hubEndpoint?: string;
  readonly catalog?: readonly CatalogModel[];
  /** Progress output of a download; default `auto` (a bar when stderr is a TTY, log lines otherwise). */
  readonly progress?: ProgressMode | DownloadProgress;
  /** Where progress log lines and notes go (default: stderr). */
  readonly log?: (message: string) => void;
  readonly fetch?: typeof fetch;
  /** Abort a download after this long without a byte. */
  readonly idleTimeoutMs?: number;
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** What a local model folder must hold; part of every "cannot load" message. */
export function modelFolderHelp(): string {
  return [
    'A model folder (CLIP_MODEL_DIR) holds:',
    `  - ${MODEL_MANIFEST_FILE}: {"name", "dim", "image": {"file", "input", "output", "size", "mean", "std"},`,
    '    "text": {"file", "input", "output", "context_length", "pad_id", optional "attention_mask"}, optional "sha256"}',
    '    (example: fixtures/models/tiny-clip/model.json in the clip-search repository);',
    '  - the vision ONNX and the text ONNX files it names;',
    `  - optionally ${BPE_FILE_NAME} (the CLIP BPE merges; the copy bundled with clip-search is used otherwise).`,
  ].join('\n');
}

/**
 * A model folder on disk (`CLIP_MODEL_DIR`, or a completed download): its manifest, and every file it
 * names present. Checksums in the manifest are not re-hashed here: they were verified when the files
 * were downloaded, and hashing 600 MB at every start would cost seconds.
 */
export async function resolveModelDir(dir: string): Promise<ResolvedModel> {
  const absolute = path.resolve(dir);
  let isDir = false;
  try {
    isDir = (await stat(absolute)).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) {
    throw new ModelLoadError(
      `The model folder ${absolute} does not exist or is not a folder.\n${modelFolderHelp()}`,
    );
  }
  const { manifest, bpeFile } = await readModelManifest(absolute);
  const visionPath = path.join(absolute, manifest.image.file);
  const textPath = path.join(absolute, manifest.text.file);
  const missing: string[] = [];
  if (!(await isFile(visionPath))) missing.push(`${visionPath} (image.file)`);
  if (!(await isFile(textPath))) missing.push(`${textPath} (text.file)`);
  let bpePath = ClipTokenizer.bundledBpePath;
  if (bpeFile !== undefined) {
    bpePath = path.join(absolute, bpeFile);
    if (!(await isFile(bpePath))) missing.push(`${bpePath} (text.bpe_file)`);
  } else if (await isFile(path.join(absolute, BPE_FILE_NAME))) {
    bpePath = path.join(absolute, BPE_FILE_NAME);
  }
  if (missing.length > 0) {
    throw new ModelLoadError(
      `The model folder ${absolute} lacks files its ${MODEL_MANIFEST_FILE} names:\n${missing
        .map((m) => `  - ${m}`)
        .join('\n')}\n${modelFolderHelp()}`,
    );
  }
  return { manifest, dir: absolute, visionPath, textPath, bpePath };
}

/**
 * Turns an embedder's settings into a model folder on disk: `modelDir` as is, or the catalog model
 * `modelName`, downloaded on first use into `<modelCacheDir>/<modelName>/` (verified, resumable, with
 * its `model.json` written last, as the mark of a complete download).
 */
/** The catalog entry named `name` (`CLIP_MODEL`), or a ModelLoadError listing the known models. */
export function requireCatalogModel(
  name: string,
  catalog: readonly CatalogModel[] = MODEL_CATALOG,
): CatalogModel {
  const entry = findCatalogModel(name, catalog);
  if (entry !== undefined) return entry;
  throw new ModelLoadError(
    `Unknown model '${name}' (CLIP_MODEL). Known models: ${catalog
      .map((m) => `${m.name} (${m.description})`)
      .join(', ')}. Or set CLIP_MODEL_DIR to a local model folder.\n${modelFolderHelp()}`,
  );
}

export async function resolveModel(
  config: Pick<ModelLocation, 'modelDir' | 'modelName' | 'modelCacheDir'>,
  options: ResolveModelOptions = {},
): Promise<ResolvedModel> {
  if (config.modelDir !== undefined) return resolveModelDir(config.modelDir);

  const entry = requireCatalogModel(config.modelName, options.catalog);
  const dir = path.resolve(config.modelCacheDir, entry.name);
  if (await isComplete(dir, entry)) return resolveModelDir(dir);
  return downloadCatalogModel(entry, dir, options);
}

/** A cache folder is complete once its model.json exists and both towers have their expected sizes. */
async function isComplete(dir: string, entry: CatalogModel): Promise<boolean> {
  if (!(await isFile(path.join(dir, MODEL_MANIFEST_FILE)))) return false;
  for (const [file, spec] of [
    [entry.manifest.image.file, entry.vision],
    [entry.manifest.text.file, entry.text],
  ] as const) {
    try {
      const s = await stat(path.join(dir, file));
      if (spec.size !== undefined && s.size !== spec.size) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function downloadCatalogModel(
  entry: CatalogModel,
  dir: string,
  options: ResolveModelOptions,
): Promise<ResolvedModel> {
  const endpoint = options.hubEndpoint ?? DEFAULT_HUB_ENDPOINT;
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const progress =
    typeof options.progress === 'object'
      ? options.progress
      : createDownloadProgress(options.progress ?? 'auto', log);
  const files = [
    { spec: entry.vision, local: entry.manifest.image.file },
    { spec: entry.text, local: entry.manifest.text.file },
  ];

  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new ModelLoadError(
      `Cannot create the model cache folder ${dir}: ${(error as Error).message}. Set MODEL_CACHE_DIR to a writable folder, or CLIP_MODEL_DIR to a local model folder.\n${modelFolderHelp()}`,
      { cause: error },
    );
  }

  // Digests pinned in the catalog are authoritative; only unpinned files ask the hub's LFS metadata.
  let hubDigests: Map<string, HubFileDigest> | undefined;
  const digestOf = async (spec: CatalogFile, dest: string): Promise<HubFileDigest> => {
    if (spec.sha256 !== undefined) return { sha256: spec.sha256, size: spec.size };
    try {
      hubDigests ??= await fetchHubFileDigests(endpoint, entry.repo, entry.revision, options.fetch);
    } catch (error) {
      throw downloadFailure(entry, dir, endpoint, spec, dest, error);
    }
    const found = hubDigests.get(spec.repoPath);
    if (found === undefined) {
      throw new ModelLoadError(
        `The hub lists no LFS digest for ${spec.repoPath} in ${entry.repo}@${entry.revision} (${endpoint}); cannot verify it.\n${offlineHelp(entry, dir, endpoint)}`,
      );
    }
    return found;
  };

  const sha256: Record<string, string> = {};
  for (const { spec, local } of files) {
    const dest = path.join(dir, local);
    const digest = await digestOf(spec, dest);
    sha256[local] = digest.sha256;
    // A file already in place (a previous run stopped before model.json, or put there by hand) is
    // used if it verifies; otherwise it is replaced.
    if (await isFile(dest)) {
      if ((await sha256File(dest)) === digest.sha256) continue;
      log(`${dest} does not match its SHA-256; downloading it again`);
    }
    const url = hubFileUrl(endpoint, entry.repo, entry.revision, spec.repoPath);
    try {
      await downloadFile({
        url,
        dest,
        sha256: digest.sha256,
        ...(digest.size === undefined ? {} : { size: digest.size }),
        label: `${entry.name}/${local}`,
        progress,
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
        ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
      });
    } catch (error) {
      throw downloadFailure(entry, dir, endpoint, spec, dest, error);
    }
  }

  const manifest: ModelManifest = { ...entry.manifest, sha256 };
  const manifestFile = toModelManifestFile(manifest, {
    source: {
      hub: endpoint,
      repo: entry.repo,
      revision: entry.revision,
      files: Object.fromEntries(files.map(({ spec, local }) => [local, spec.repoPath])),
    },
    normalize: 'L2, by the caller',
  });
  const target = path.join(dir, MODEL_MANIFEST_FILE);
  try {
    await writeFile(`${target}.tmp`, `${JSON.stringify(manifestFile, null, 1)}\n`);
    await rename(`${target}.tmp`, target);
  } catch (error) {
    throw new ModelLoadError(`Cannot write ${target}: ${(error as Error).message}`, { cause: error });
  }
  return resolveModelDir(dir);
}

function offlineHelp(entry: CatalogModel, dir: string, endpoint: string): string {
  const rev = entry.revision;
  return [
    `If this machine cannot reach ${endpoint}, either:`,
    `  - set HF_ENDPOINT to a reachable mirror of the Hugging Face hub; or`,
    `  - fetch ${entry.repo} at revision ${rev} elsewhere and put ${entry.vision.repoPath} at ${path.join(
      dir,
      entry.manifest.image.file,
    )} and ${entry.text.repoPath} at ${path.join(dir, entry.manifest.text.file)} (they are verified against their SHA-256); or`,
    `  - set CLIP_MODEL_DIR to a local model folder.`,
    modelFolderHelp(),
  ].join('\n');
}

function downloadFailure(
  entry: CatalogModel,
  dir: string,
  endpoint: string,
  spec: CatalogFile,
  dest: string,
  error: unknown,
): ModelLoadError {
  const url =
    error instanceof DownloadError
      ? error.url
      : hubFileUrl(endpoint, entry.repo, entry.revision, spec.repoPath);
  const reason = error instanceof Error ? error.message : String(error);
  const what =
    error instanceof DownloadError && error.failure === 'checksum'
      ? 'The download did not verify'
      : 'Could not download';
  return new ModelLoadError(
    [
      `${what}: model '${entry.name}' (${entry.repo}@${entry.revision.slice(0, 12)}), file ${spec.repoPath}`,
      `  URL:   ${url}`,
      `  error: ${reason}`,
      `  cache: ${dest}`,
      offlineHelp(entry, dir, endpoint),
    ].join('\n'),
    { cause: error },
  );
}
