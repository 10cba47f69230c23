import { createEmbedder } from '@clip-search/gateway/create-embedder';
import { parseCommandArgs } from '../args';
import { UsageError } from '../cli-error';
import { configWithModelDir, MODEL_DIR_OPTION } from '../model-options';

/** `clip-search embed (--text TEXT | --image PATH)` → `{"embedding":[…],"dim":512,"model":"…"}`. */
export async function embedCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(
    args,
    { ...MODEL_DIR_OPTION, text: { type: 'string' }, image: { type: 'string' } },
    false,
  );
  if (positionals.length > 0 || (values.text === undefined) === (values.image === undefined)) {
    throw new UsageError('embed takes exactly one of --text TEXT or --image PATH');
  }
  const config = configWithModelDir(values['model-dir']);
  const embedder = await createEmbedder(config);
  try {
    const { id: model, dim } = embedder.info;
    let line: Record<string, unknown>;
    if (values.text !== undefined) {
      const [result] = await embedder.embedTexts([values.text]);
      if (result === undefined) throw new Error('the embedder returned no result');
      line = { embedding: Array.from(result.embedding), dim, model, truncated: result.truncated };
    } else {
      const [result] = await embedder.embedImages([{ path: values.image ?? '' }]);
      if (result === undefined) throw new Error('the embedder returned no result');
      if (!result.ok) throw result.error;
      line = {
        embedding: Array.from(result.embedding),
        dim,
        model,
        width: result.width,
        height: result.height,
      };
    }
    process.stdout.write(`${JSON.stringify(line)}\n`);
  } finally {
    await embedder.close();
  }
}
