import { parseCommandArgs } from '../args';
import { UsageError } from '../cli-error';
import { GatewayClient, serverUrl, URL_OPTION } from '../gateway-client';

interface SearchAnswer {
  results: { id: string; uri: string; score: number }[];
  tookMs: number;
  queryTruncated: boolean;
}

/** Columns padded to their widest cell; the last one is left ragged. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  '),
    )
    .join('\n');
}

/**
 * `clip-search search TEXT [-k N] [--json] [--url URL]`: asks the running gateway and prints a table of
 * rank, score, id and uri (or the raw JSON answer with --json).
 */
export async function searchCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, {
    k: { type: 'string', short: 'k' },
    json: { type: 'boolean' },
    ...URL_OPTION,
  });
  const text = positionals.join(' ').trim();
  if (text === '') throw new UsageError('search needs a text, as in: clip-search search "a red bicycle"');
  const k = values.k === undefined ? 10 : Number(values.k);
  if (!Number.isInteger(k) || k < 1 || k > 1000)
    throw new UsageError(`-k ${values.k ?? ''}: a whole number from 1 to 1000`);
  const client = new GatewayClient(serverUrl(values.url));
  const answer = await client.request<SearchAnswer>('POST', '/v1/search', { query: text, k, include: [] });
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    return;
  }
  const rows = answer.results.map((r, i) => [String(i + 1), r.score.toFixed(4), r.id, r.uri]);
  process.stdout.write(`${formatTable([['rank', 'score', 'id', 'uri'], ...rows])}\n`);
  const note = answer.queryTruncated ? ' (the text was cut to the model context)' : '';
  process.stderr.write(`${answer.results.length} results in ${answer.tookMs} ms${note}\n`);
}
