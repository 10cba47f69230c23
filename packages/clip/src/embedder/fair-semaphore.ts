/**
 * A counting semaphore shared fairly between owners (clients): at most `permits` holders at once, and when
 * a permit frees it goes to the waiting owner that holds the fewest permits, the least recently served
 * among equals (round-robin), each owner's own waiters in arrival order.
 *
 * With a plain FIFO, one client sending a hundred images (or four sending slow ones) queues every other
 * client's image behind all of its own; here another client's single image gets the next free permit.
 * A waiter whose AbortSignal fires leaves the queue at once.
 */

interface OwnerState {
  held: number;
  /** Each waiter's grant, in arrival order. */
  readonly waiting: (() => void)[];
  /** When this owner last received a permit (a counter, not a clock): the round-robin order. */
  lastServed: number;
}

export class FairSemaphore {
  private readonly owners = new Map<string, OwnerState>();
  private available: number;
  private served = 0;
  private waitingCount = 0;

  constructor(readonly permits: number) {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new RangeError(`permits must be a positive integer, got ${permits}`);
    }
    this.available = permits;
  }

  /** Permits held now. */
  get active(): number {
    return this.permits - this.available;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.waitingCount;
  }

  /**
   * Resolves when `owner` holds a permit (release it with {@link release} and the same owner). Rejects
   * with the signal's reason, holding nothing, when the signal aborts first.
   */
  acquire(owner: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const state = this.stateOf(owner);
    // A permit is free only when nobody waits: release hands permits straight to waiters.
    if (this.available > 0) {
      this.grantTo(state);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const at = state.waiting.indexOf(grant);
        if (at < 0) return;
        state.waiting.splice(at, 1);
        this.waitingCount--;
        this.forget(owner, state);
        reject(signal?.reason as Error);
      };
      state.waiting.push(grant);
      this.waitingCount++;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Returns `owner`'s permit; it goes straight to the next waiter chosen fairly, if any. */
  release(owner: string): void {
    const state = this.owners.get(owner);
    if (state === undefined || state.held === 0) {
      throw new Error(`release by ${JSON.stringify(owner)}, which holds no permit`);
    }
    state.held--;
    this.available++;
    this.forget(owner, state);
    const next = this.nextOwner();
    if (next === undefined) return;
    const grant = next.waiting.shift();
    if (grant === undefined) return;
    this.waitingCount--;
    this.grantTo(next);
    grant();
  }

  /** Runs `work` holding a permit of `owner`'s. */
  async use<T>(owner: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(owner, signal);
    try {
      return await work();
    } finally {
      this.release(owner);
    }
  }

  private stateOf(owner: string): OwnerState {
    let state = this.owners.get(owner);
    if (state === undefined) {
      state = { held: 0, waiting: [], lastServed: -1 };
      this.owners.set(owner, state);
    }
    return state;
  }

  private grantTo(state: OwnerState): void {
    this.available--;
    state.held++;
    state.lastServed = this.served++;
  }

  /** Owners holding and awaiting nothing are dropped, so the map stays as small as the current load. */
  private forget(owner: string, state: OwnerState): void {
    if (state.held === 0 && state.waiting.length === 0) this.owners.delete(owner);
  }

  /** The waiting owner holding the fewest permits; among equals the least recently served. */
  private nextOwner(): OwnerState | undefined {
    let best: OwnerState | undefined;
    for (const state of this.owners.values()) {
      if (state.waiting.length === 0) continue;
      if (
        best === undefined ||
        state.held < best.held ||
        (state.held === best.held && state.lastServed < best.lastServed)
      ) {
        best = state;
      }
    }
    return best;
  }
}
