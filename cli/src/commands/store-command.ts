import path from 'node:path';
import { BackendUnavailableError, InvalidInputError } from '@clip-search/contracts';
import { checkEmbeddedStore, DamagedStoreError, recoverEmbeddedStore } from '@clip-search/store-embedded';
import { dataPaths, loadConfig } from '@clip-search/config';
import { type SqliteCheck } from '@clip-search/sqlite';
import { parseCommandArgs } from '../args';
import { UsageError } from '../cli-error';

const USAGE =
  'store check [--store DIR] [--full] | store recover [--store DIR] [--force] [--model-id ID --dim N] [--json]';

/**
 * `clip-search store check|recover`: the embedded vector store, offline (the server stopped: a running one
 * holds the store's lock and makes both fail at once).
 *
 * - `check` runs SQLite's `quick_check` (`--full`: `integrity_check`) and exits 1 when the file is damaged.
 * - `recover` salvages every readable item into a fresh store that takes the damaged one's place, keeps the
 *   damaged file as `store.db.damaged-<time>` and reports the counts. A store that checks ok is left alone
 *   unless `--force`.
 *
 * The store is `$DATA_DIR/vectors` unless `--store` names its folder (the one a damaged-store error names).
 */
export async function storeCommand(args: string[]): Promise<void> {
  const [subcommand, ...rest] = args;
  const { values } = parseCommandArgs(
    rest,
    {
      store: { type: 'string' },
      full: { type: 'boolean' },
      force: { type: 'boolean' },
      'model-id': { type: 'string' },
      dim: { type: 'string' },
      json: { type: 'boolean' },
    },
    false,
  );
  if (subcommand !== 'check' && subcommand !== 'recover')
    throw new UsageError(
      `store${subcommand === undefined ? '' : ` ${subcommand}`}: the subcommand is check or recover (clip-search ${USAGE})`,
    );
  const dim = values.dim === undefined ? undefined : dimension(values.dim);
  const dir = values.store === undefined ? defaultStoreDir() : path.resolve(values.store);
  if (subcommand === 'check') {
    const { file, check } = await checkEmbeddedStore(dir, { full: values.full === true });
    const ms = passedCheck(file, check);
    process.stdout.write(
      `${file}: ok (${values.full === true ? 'integrity_check' : 'quick_check'}, ${ms} ms)\n`,
    );
    return;
  }
  if (values.force !== true) {
    const { file, check } = await checkEmbeddedStore(dir);
    if (check.state === 'ok') {
      process.stdout.write(
        `${file} is not damaged (quick_check ok): nothing to recover (--force to rebuild it anyway)\n`,
      );
      return;
    }
    if (check.state === 'busy') throw busy(file);
  }
  const report = recoverEmbeddedStore(dir, {
    ...(values['model-id'] === undefined ? {} : { modelId: values['model-id'] }),
    ...(dim === undefined ? {} : { dim }),
  });
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const of = report.expected === undefined ? '' : ` of ${report.expected}`;
  process.stdout.write(
    [
      `Recovered ${report.recovered}${of} items into ${report.file} ` +
        `(${report.unreadable} unreadable rows, ${report.invalid} invalid ones left out).`,
      `The damaged file is kept as ${report.damagedFile}.`,
      'Re-ingest the corpus to restore the rest: files already in the store are skipped, so only the lost ' +
        'items are embedded again (`clip-search serve` indexes CORPUS_DIR at start, `clip-search ingest DIR --wait` ' +
        'any other folder). The search index is rebuilt from the items at the next start.',
      '',
    ].join('\n'),
  );
}

/** The store folder of the configured DATA_DIR. */
function defaultStoreDir(): string {
  return dataPaths(loadConfig().dataDir).vectors;
}

/** How long a check that ran and passed took; every other outcome becomes the error that explains it. */
function passedCheck(file: string, check: SqliteCheck): number {
  switch (check.state) {
    case 'ok':
      return check.ms;
    case 'damaged':
      throw new DamagedStoreError(file, check.problems);
    case 'busy':
      throw busy(file);
    case 'timeout':
      throw new BackendUnavailableError(`${file}: the check ran out of time`);
    case 'failed':
      throw new InvalidInputError(`${file}: cannot check it: ${check.reason}`);
  }
}

function busy(file: string): BackendUnavailableError {
  return new BackendUnavailableError(`${file} is open in another process (a running server?): stop it first`);
}

function dimension(text: string): number {
  const dim = Number(text);
  if (!/^\d+$/.test(text) || dim < 1) throw new UsageError(`--dim ${text}: a positive whole number`);
  return dim;
}
