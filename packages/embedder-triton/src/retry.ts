/** Retrying a call with exponential backoff, for errors the caller says are transient. */

export interface RetryPolicy {
  /** Retries after the first attempt (0: try once). */
  readonly maxRetries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * Runs `attempt` until it succeeds, `shouldRetry` says no, or the retries are spent; then rethrows the last
 * error. The delay before retry k is min(max, base × 2^k) scaled by a random factor in [0.5, 1], so clients
 * that failed together do not retry in lockstep.
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  shouldRetry: (error: unknown) => boolean,
  onRetry?: (error: unknown, retry: number, delayMs: number) => void,
): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (retry >= policy.maxRetries || !shouldRetry(error)) throw error;
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
      const delayMs = Math.round(ceiling * (0.5 + Math.random() / 2));
      onRetry?.(error, retry + 1, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
