/**
 * A process-wide allowance of bytes, taken in whole reservations and given back by them. Reservations are
 * granted in arrival order (a large one is not starved by a stream of small ones); a waiting reservation
 * leaves the queue when its signal aborts.
 */
export class ByteBudget {
  private available: number;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];

  constructor(readonly capacity: number) {
    this.available = capacity;
  }

  /** Bytes reserved and not yet released. */
  get reserved(): number {
    return this.capacity - this.available;
  }

  /**
   * Resolves with a release function once `bytes` (at most the capacity) are reserved; rejects with the
   * signal's reason if it aborts first. Release exactly once.
   */
  reserve(bytes: number, signal?: AbortSignal): Promise<() => void> {
    const wanted = Math.min(Math.max(0, bytes), this.capacity);
    signal?.throwIfAborted();
    if (this.waiting.length === 0 && wanted <= this.available) {
      this.available -= wanted;
      return Promise.resolve(this.releaser(wanted));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        bytes: wanted,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.releaser(wanted));
        },
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(entry);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal?.reason as Error);
        this.grantWaiting(); // the head may have been the one blocking smaller reservations
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private releaser(bytes: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.available += bytes;
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    for (
      let head = this.waiting[0];
      head !== undefined && head.bytes <= this.available;
      head = this.waiting[0]
    ) {
      this.waiting.shift();
      this.available -= head.bytes;
      head.grant();
    }
  }
}
