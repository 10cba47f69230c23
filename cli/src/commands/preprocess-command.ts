import { writeFile } from 'node:fs/promises';
import { ImagePreprocessor } from '@clip-search/clip';
import { parseCommandArgs } from '../args';
import { UsageError } from '../cli-error';
import { configWithModelDir, MODEL_DIR_OPTION, selectedModel } from '../model-options';

/** float32 little-endian bytes whatever the machine's byte order. */
function float32LittleEndian(values: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i] ?? 0, i * 4);
  return out;
}

/** `clip-search preprocess IMAGE --out FILE`: the float32 LE [3,S,S] tensor the vision model receives. */
export async function preprocessCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, {
    ...MODEL_DIR_OPTION,
    out: { type: 'string', short: 'o' },
  });
  if (positionals.length !== 1) throw new UsageError('preprocess takes exactly one IMAGE path');
  if (values.out === undefined) throw new UsageError('preprocess needs --out FILE');
  const config = configWithModelDir(values['model-dir']);
  const { image } = (await selectedModel(config)).manifest;
  const preprocessor = new ImagePreprocessor({
    size: image.size,
    mean: image.mean,
    std: image.std,
    maxPixels: config.embedder.maxImagePixels,
  });
  const { pixels, width, height } = await preprocessor.preprocess({ path: positionals[0] ?? '' });
  await writeFile(values.out, float32LittleEndian(pixels));
  process.stderr.write(
    `${positionals[0]} (${width}×${height}) → ${values.out}: float32 LE [3,${image.size},${image.size}]\n`,
  );
}
