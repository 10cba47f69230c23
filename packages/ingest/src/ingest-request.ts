import {
  InvalidInputError,
  InvalidSourceError,
  metadataLimitViolations,
  type IngestRequest,
  type Metadata,
} from '@clip-search/contracts';

/** A request every queue accepts, normalized: what a job keeps (its source replaced by the canonical URI). */
export interface ValidIngestRequest {
  readonly source: string;
  readonly sweep: boolean;
  readonly metadata: Metadata;
}

/**
 * Checks a request as every IngestQueue must, in one order and with one set of errors, before anything is
 * queued: the request may come from JSON a client sent.
 */
export function validateIngestRequest(request: IngestRequest): ValidIngestRequest {
  const raw = request as Partial<Record<keyof IngestRequest, unknown>> | null | undefined;
  if (typeof raw?.source !== 'string' || raw.source.trim() === '')
    throw new InvalidSourceError('An ingest request needs a `source` URI');
  if (raw.sweep !== undefined && typeof raw.sweep !== 'boolean')
    throw new InvalidInputError('`sweep` must be a boolean');
  const metadata = raw.metadata ?? {};
  if (typeof metadata !== 'object' || Array.isArray(metadata))
    throw new InvalidInputError('`metadata` must be an object');
  const [problem] = metadataLimitViolations(metadata as Metadata);
  if (problem !== undefined) throw new InvalidInputError(`${problem[0]} ${problem[1]}`);
  return { source: raw.source.trim(), sweep: raw.sweep ?? false, metadata: metadata as Metadata };
}
