import type { ClipSearchError } from '@clip-search/contracts';
import type { FieldError } from './http-errors';

/**
 * Problem `type` URIs are absolute and stable: `https://clip-search.dev/problems/<slug>`, the slug being the
 * `type` of the typed error (packages/contracts/src/errors, gateway/src/http/http-errors.ts). Clients switch
 * on it, never on `title` or `detail`, which are for people.
 */
export const PROBLEM_TYPE_BASE = 'https://clip-search.dev/problems/';

/** The media type of every error response (also read by tsoa from `@Response(…, PROBLEM_JSON)`). */
export const PROBLEM_JSON = 'application/problem+json';

/** RFC 9457 problem details, as every error response of the gateway carries them. */
export interface Problem {
  /** `https://clip-search.dev/problems/<slug>`. */
  type: string;
  title: string;
  /** @isInt */
  status: number;
  detail: string;
  /** The request id (also in the `X-Request-Id` response header). */
  instance?: string;
  /** Validation problems only: every invalid field. */
  errors?: FieldError[];
}

export function problemType(slug: string): string {
  return `${PROBLEM_TYPE_BASE}${slug}`;
}

/**
 * The most a problem body may weigh, serialized. A problem explains a mistake to a person; the mistake
 * itself (a 29 MB string, a million-element array) is never echoed back.
 */
export const MAX_PROBLEM_BYTES = 8192;

const PROBLEM_LIMITS = { detail: 1000, errors: 20, field: 200, message: 300 } as const;

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The problem body of a typed error; `detail` is the error's message, written for the caller. */
export function problemOf(error: ClipSearchError, instance: string | undefined): Problem {
  const problem: Problem = {
    type: problemType(error.type),
    title: error.title,
    status: error.status,
    detail: cut(error.message, PROBLEM_LIMITS.detail),
  };
  if (instance !== undefined) problem.instance = instance;
  const errors = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors)) problem.errors = boundedErrors(errors as FieldError[]);
  return problem;
}

/** The first field errors, each cut to size, with a last entry counting the rest; within MAX_PROBLEM_BYTES. */
function boundedErrors(errors: readonly FieldError[]): FieldError[] {
  const shown = errors.slice(0, PROBLEM_LIMITS.errors).map(({ field, message }) => ({
    field: cut(field, PROBLEM_LIMITS.field),
    message: cut(message, PROBLEM_LIMITS.message),
  }));
  // detail (1,000) + the fixed fields leave about 6 KB for the list: drop entries until it fits.
  const budget = MAX_PROBLEM_BYTES - 2048;
  while (shown.length > 1 && Buffer.byteLength(JSON.stringify(shown)) > budget) shown.pop();
  const hidden = errors.length - shown.length;
  if (hidden > 0) shown.push({ field: '(more)', message: `${hidden} more errors are not listed` });
  return shown;
}

/** A bug or an unexpected failure: nothing of the internals reaches the caller (the log has the stack). */
export function internalProblem(instance: string | undefined): Problem {
  return {
    type: problemType('internal-error'),
    title: 'Internal server error',
    status: 500,
    detail: 'The server failed to handle the request; the log has the details under this request id.',
    ...(instance === undefined ? {} : { instance }),
  };
}
