import { ClipTokenizer } from '@clip-search/clip/tokenizer';
import { parseCommandArgs } from '../args';
import { UsageError } from '../cli-error';
import { configWithModelDir, MODEL_DIR_OPTION, selectedModel } from '../model-options';

/** `clip-search tokenize TEXT` → `{"ids":[77 ids],"truncated":false}`. */
export async function tokenizeCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, MODEL_DIR_OPTION);
  if (positionals.length !== 1) throw new UsageError('tokenize takes exactly one TEXT argument (quote it)');
  const { manifest, bpePath } = await selectedModel(configWithModelDir(values['model-dir']));
  const tokenizer = await ClipTokenizer.fromBpeFile(bpePath, manifest.text.contextLength);
  const { ids, truncated } = tokenizer.tokenize(positionals[0] ?? '');
  process.stdout.write(`${JSON.stringify({ ids, truncated })}\n`);
}
