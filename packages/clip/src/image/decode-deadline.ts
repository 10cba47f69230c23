/**
 * When the preprocessing of one image must stop: its time limit (`IMAGE_DECODE_TIMEOUT_MS`) is spent, or
 * its caller gave up (an AbortSignal, e.g. the HTTP client went away).
 *
 * Neither can interrupt work from outside, so the work asks: the JS stages call {@link check} between
 * stages and between rows, and every libvips pipeline gets the remaining time as sharp's own timeout
 * (libvips kills the pipeline from its progress callback).
 */
import { InvalidImageError } from '@clip-search/contracts';

/** sharp accepts 1..3600 whole seconds (0 would mean no limit). */
const SHARP_MAX_SECONDS = 3600;

export class DecodeDeadline {
  private readonly endsAt: number;

  constructor(
    readonly timeoutMs: number,
    readonly signal?: AbortSignal,
  ) {
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);
    this.endsAt = performance.now() + timeoutMs;
  }

  remainingMs(): number {
    return this.endsAt - performance.now();
  }

  /** Throws the abort reason when the caller gave up, or a timeout InvalidImageError when time is up. */
  check(): void {
    this.signal?.throwIfAborted();
    if (this.remainingMs() <= 0) throw this.timeoutError();
  }

  /**
   * The remaining time as sharp's `timeout({ seconds })`, rounded up: libvips measures whole seconds, so a
   * libvips stage may overrun a sub-second remainder by up to a second (the next {@link check} reports it).
   */
  sharpSeconds(): number {
    return Math.min(SHARP_MAX_SECONDS, Math.max(1, Math.ceil(this.remainingMs() / 1000)));
  }

  /** `detail` says how far the stopped work got, when known. */
  timeoutError(detail?: string): InvalidImageError {
    return new InvalidImageError(
      `decoding took longer than the ${this.timeoutMs} ms limit (IMAGE_DECODE_TIMEOUT_MS)` +
        (detail === undefined ? '' : `; ${detail}`),
    );
  }

  /** True when `error` is this deadline's abort (to pass through untouched, not as a bad image). */
  isAbort(error: unknown): boolean {
    return this.signal?.aborted === true && error === this.signal.reason;
  }
}
