/**
 * gRPC failures from Triton, sorted into what the rest of clip-search understands. Triton maps its own
 * error codes onto gRPC status codes (unknown model: NOT_FOUND or UNAVAILABLE depending on the release; bad
 * shape or datatype: INVALID_ARGUMENT; not ready: UNAVAILABLE; queue full: UNAVAILABLE or RESOURCE_EXHAUSTED).
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { BackendUnavailableError, ModelMismatchError } from '@clip-search/contracts';

interface GrpcFailure {
  readonly code: GrpcStatus;
  readonly details: string;
}

export function isGrpcFailure(error: unknown): error is GrpcFailure & Error {
  return (
    error instanceof Error &&
    typeof (error as Partial<GrpcFailure>).code === 'number' &&
    typeof (error as Partial<GrpcFailure>).details === 'string'
  );
}

/** Only these are worth another try: the server was unreachable or too slow this time. */
export function isTransient(error: unknown): boolean {
  return (
    isGrpcFailure(error) &&
    (error.code === GrpcStatus.UNAVAILABLE || error.code === GrpcStatus.DEADLINE_EXCEEDED)
  );
}

/** The server refused what we sent as not fitting its model. */
const MISMATCH = new Set<GrpcStatus>([
  GrpcStatus.INVALID_ARGUMENT,
  GrpcStatus.FAILED_PRECONDITION,
  GrpcStatus.UNIMPLEMENTED,
  GrpcStatus.OUT_OF_RANGE,
]);

/**
 * The typed error for a failed call. The request was checked against the model's contract before it was
 * sent, so a rejection of its content (INVALID_ARGUMENT...) means the server's model changed under us:
 * a mismatch. Anything else is the backend being unavailable (503, retry later).
 */
export function tritonCallError(error: unknown, what: string, target: string): Error {
  if (!isGrpcFailure(error)) return error instanceof Error ? error : new Error(String(error));
  // A code from a newer gRPC has no name in this enum: print the number.
  const name = (GrpcStatus as Record<number, string | undefined>)[error.code] ?? String(error.code);
  const message = `Triton at ${target}: ${what} failed: ${name}: ${error.details}`;
  return MISMATCH.has(error.code)
    ? new ModelMismatchError(message, { cause: error })
    : new BackendUnavailableError(message, 5, { cause: error });
}
