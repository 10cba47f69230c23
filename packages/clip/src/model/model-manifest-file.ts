import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type * as Zod from 'zod';
import { ModelLoadError } from '@clip-search/contracts';
import type { ModelManifest } from '@clip-search/contracts';

/** The manifest's file name inside a model folder. */
export const MODEL_MANIFEST_FILE = 'model.json';

/**
 * The schema of model.json, built on first use: zod takes longer to load than the rest of the tokenizer's
 * path, and the catalog models (the default) never read a model.json.
 */
function buildManifestFileSchema(z: typeof Zod.z) {
  /**
   * A file named by the manifest must stay inside the model folder: a `model.json` may come from anywhere
   * (a download, a user's folder), and `../../etc/passwd` must not become a "model".
   */
  const fileName = z
    .string({ error: 'expected a file name (string)' })
    .min(1, { error: 'expected a non-empty file name' })
    .refine((f) => !path.isAbsolute(f) && !f.split(/[\\/]/).includes('..'), {
      error: 'must be a file name relative to the model folder, without ".."',
    });
  const tensorName = z.string({ error: 'expected a tensor name (string)' }).min(1, {
    error: 'expected a non-empty tensor name',
  });
  const positiveInt = z
    .number({ error: 'expected a number' })
    .int({ error: 'expected an integer' })
    .positive({ error: 'expected a positive integer' });
  const triple = (what: string, positive: boolean) => {
    const component = positive
      ? z.number({ error: `expected ${what}: three numbers` }).positive({ error: `${what} must be > 0` })
      : z.number({ error: `expected ${what}: three numbers` });
    return z.tuple([component, component, component], {
      error: `expected ${what}: an array of three numbers (R, G, B)`,
    });
  };
  const sha256 = z
    .string()
    .regex(/^[0-9a-f]{64}$/, { error: 'expected a lowercase hex SHA-256 (64 digits)' });

  /**
   * The on-disk format (snake_case, as in fixtures/models/tiny-clip/model.json). Unknown keys (free-text
   * notes such as `weights`, `resize`, `normalize`) are allowed and ignored.
   */
  return z.object({
    name: z.string({ error: 'expected the model id (string)' }).min(1, { error: 'must not be empty' }),
    dim: positiveInt,
    image: z.object(
      {
        file: fileName,
        input: tensorName,
        output: tensorName,
        size: positiveInt,
        mean: triple('mean', false),
        std: triple('std', true),
      },
      { error: 'expected an object' },
    ),
    text: z.object(
      {
        file: fileName,
        input: tensorName,
        output: tensorName,
        attention_mask: tensorName.optional(),
        context_length: positiveInt,
        pad_id: z
          .number({ error: 'expected a number' })
          .int({ error: 'expected an integer' })
          .nonnegative({ error: 'expected an integer ≥ 0' }),
        /** The BPE merges file in the folder; when absent the folder's bpe_simple_vocab_16e6.txt.gz or the bundled copy. */
        bpe_file: fileName.optional(),
      },
      { error: 'expected an object' },
    ),
    sha256: z.record(z.string(), sha256, { error: 'expected an object: file name → SHA-256' }).optional(),
  });
}

let manifestFileSchemaCache: ReturnType<typeof buildManifestFileSchema> | undefined;

function manifestFileSchema(): ReturnType<typeof buildManifestFileSchema> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
  manifestFileSchemaCache ??= buildManifestFileSchema((require('zod') as typeof Zod).z);
  return manifestFileSchemaCache;
}

export type ModelManifestFile = Zod.z.input<ReturnType<typeof buildManifestFileSchema>>;

/** A manifest as parsed from a file, plus the optional merges file name the folder declares. */
export interface ParsedModelManifest {
  readonly manifest: ModelManifest;
  readonly bpeFile: string | undefined;
}

/**
 * Validates a parsed `model.json`. Throws a ModelLoadError that names every bad field by its key in the
 * file (`text.context_length: expected a positive integer`), so a hand-written manifest is fixed in one go.
 */
export function parseModelManifest(json: unknown, source: string): ParsedModelManifest {
  const parsed = manifestFileSchema().safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) =>
        `  - ${issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`,
    );
    throw new ModelLoadError(`Invalid model manifest ${source}:\n${problems.join('\n')}`);
  }
  const f = parsed.data;
  const manifest: ModelManifest = {
    name: f.name,
    dim: f.dim,
    image: {
      file: f.image.file,
      input: f.image.input,
      output: f.image.output,
      size: f.image.size,
      mean: f.image.mean,
      std: f.image.std,
    },
    text: {
      file: f.text.file,
      input: f.text.input,
      output: f.text.output,
      ...(f.text.attention_mask === undefined ? {} : { attentionMask: f.text.attention_mask }),
      contextLength: f.text.context_length,
      padId: f.text.pad_id,
    },
    sha256: f.sha256 ?? {},
  };
  return { manifest, bpeFile: f.text.bpe_file };
}

/** Reads and validates `<dir>/model.json`. */
export async function readModelManifest(dir: string): Promise<ParsedModelManifest> {
  const file = path.join(dir, MODEL_MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ModelLoadError(`Cannot read the model manifest ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelLoadError(`The model manifest ${file} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseModelManifest(json, file);
}

/** The on-disk form of a manifest (what `parseModelManifest` reads back), plus free-form extra keys. */
export function toModelManifestFile(
  manifest: ModelManifest,
  extra: Readonly<Record<string, unknown>> = {},
): ModelManifestFile & Record<string, unknown> {
  return {
    name: manifest.name,
    ...extra,
    image: {
      file: manifest.image.file,
      input: manifest.image.input,
      output: manifest.image.output,
      size: manifest.image.size,
      mean: [...manifest.image.mean],
      std: [...manifest.image.std],
    },
    text: {
      file: manifest.text.file,
      input: manifest.text.input,
      output: manifest.text.output,
      ...(manifest.text.attentionMask === undefined ? {} : { attention_mask: manifest.text.attentionMask }),
      context_length: manifest.text.contextLength,
      pad_id: manifest.text.padId,
    },
    dim: manifest.dim,
    sha256: { ...manifest.sha256 },
  };
}
