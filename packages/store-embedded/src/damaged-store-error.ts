import path from 'node:path';
import { ClipSearchError } from '@clip-search/contracts';

/**
 * The store's SQLite file is damaged (`PRAGMA quick_check` found problems, or SQLite reported corruption):
 * the store refuses to open rather than serve from it. `clip-search store recover` salvages what is readable.
 */
export class DamagedStoreError extends ClipSearchError {
  readonly type = 'store-damaged';
  readonly status = 503;
  readonly title = 'Vector store damaged';

  constructor(
    /** The damaged database file. */
    readonly file: string,
    /** What SQLite reported, first problems first. */
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(
      `vector store file ${file} is damaged (${summary(problems)}). ` +
        `Stop the server and run \`clip-search store recover --store ${shellQuote(path.dirname(file))}\`: it keeps the ` +
        'damaged file beside it, salvages every readable item into a fresh store, and re-ingesting the ' +
        'corpus then restores the rest',
      options,
    );
  }
}

/** The first problems, on one line. */
function summary(problems: readonly string[]): string {
  if (problems.length === 0) return 'unknown problem';
  const more = problems.length > 2 ? '; …' : '';
  return problems.slice(0, 2).join('; ').replace(/\s+/g, ' ') + more;
}

/** A path as it can be pasted into a shell. */
function shellQuote(text: string): string {
  return /^[\w./@%+=:,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
