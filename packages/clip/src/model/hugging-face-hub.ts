import { DownloadError } from './model-download';

/** The public hub; `HF_ENDPOINT` (a mirror, or a local server in tests) replaces it. */
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

function trimSlash(endpoint: string): string {
  return endpoint.replace(/\/+$/, '');
}

/** Where the hub serves a file of a repository at a revision: `<endpoint>/<repo>/resolve/<rev>/<path>`. */
export function hubFileUrl(endpoint: string, repo: string, revision: string, repoPath: string): string {
  const encodedPath = repoPath.split('/').map(encodeURIComponent).join('/');
  return `${trimSlash(endpoint)}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

export interface HubFileDigest {
  readonly sha256: string;
  readonly size: number | undefined;
}

interface HubSibling {
  rfilename?: unknown;
  size?: unknown;
  lfs?: { sha256?: unknown; oid?: unknown; size?: unknown };
}

/**
 * SHA-256 digests of a revision's LFS files, from the hub's model API
 * (`GET /api/models/<repo>/revision/<rev>?blobs=true` lists each file with `lfs.sha256`, the Git LFS
 * object id, which is the SHA-256 of the content). Used only for catalog files whose digest is not
 * pinned in the catalog.
 */
export async function fetchHubFileDigests(
  endpoint: string,
  repo: string,
  revision: string,
  fetchImpl: typeof fetch = fetch,
): Promise<Map<string, HubFileDigest>> {
  const url = `${trimSlash(endpoint)}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  let response: Response;
  try {
    response = await fetchImpl(url, { headers: { Accept: 'application/json' } });
  } catch (error) {
    const e = error as { message?: string; cause?: { code?: string; message?: string } };
    const cause = e.cause?.message ?? e.cause?.code;
    throw new DownloadError(
      `${e.message ?? String(error)}${cause === undefined ? '' : ` (${cause})`}`,
      url,
      'network',
      {
        cause: error,
      },
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new DownloadError(`HTTP ${response.status} ${response.statusText}`.trim(), url, 'http');
  }
  let body: { siblings?: HubSibling[] };
  try {
    body = (await response.json()) as { siblings?: HubSibling[] };
  } catch (error) {
    throw new DownloadError('the hub answered with something that is not JSON', url, 'http', {
      cause: error,
    });
  }
  const digests = new Map<string, HubFileDigest>();
  for (const sibling of body.siblings ?? []) {
    const digest = sibling.lfs?.sha256 ?? sibling.lfs?.oid;
    if (typeof sibling.rfilename !== 'string' || typeof digest !== 'string') continue;
    const size = sibling.lfs?.size ?? sibling.size;
    digests.set(sibling.rfilename, {
      sha256: digest.replace(/^sha256:/, '').toLowerCase(),
      size: typeof size === 'number' ? size : undefined,
    });
  }
  return digests;
}
