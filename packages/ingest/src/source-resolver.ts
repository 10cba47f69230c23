import { InvalidSourceError } from '@clip-search/contracts';
import { resolveFileSource } from '@clip-search/source-local';
import type { ObjectSource } from '@clip-search/contracts';

/** A source ready to list, and its canonical URI (the prefix of its objects' URIs). */
export type ResolvedSource = ObjectSource & { readonly uri: string };

/** Opens a source of one scheme: parses the URI, checks it is allowed, and returns what to list. */
export type SourceOpener = (uri: string) => Promise<ResolvedSource>;

/**
 * Turns an ingest request's `source` into a source to list, by the URI's scheme: `file:` for local
 * folders today, `s3:` when a bucket adapter is configured. A new backend is one more opener here, not an
 * edit of the queues that use it.
 */
export class SourceResolver {
  constructor(private readonly openers: Readonly<Record<string, SourceOpener>>) {}

  /** Local folders under `allowedRoots` only (CORPUS_DIR and INGEST_ROOTS): the embedded mode. */
  static localFolders(allowedRoots: readonly string[]): SourceResolver {
    return new SourceResolver({ file: (uri) => resolveFileSource(uri, allowedRoots) });
  }

  /** The schemes this resolver opens, e.g. `['file']`. */
  get schemes(): string[] {
    return Object.keys(this.openers);
  }

  resolve(uri: string): Promise<ResolvedSource> {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
    const open = scheme === undefined ? undefined : this.openers[scheme];
    if (open === undefined)
      return Promise.reject(
        new InvalidSourceError(
          `${JSON.stringify(uri.slice(0, 200))} is not a source this server ingests (schemes: ${this.schemes.map((s) => `${s}:`).join(', ')})`,
        ),
      );
    return open(uri);
  }
}
