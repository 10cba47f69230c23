/**
 * Runs tasks one at a time, in the order they were queued. The store's writes take their turns here (and so
 * does saving an index snapshot, which must not see the index change under it); reads do not queue, and
 * run between the steps of a write.
 */
export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` once every task queued before it has settled; a failed task does not stop the next. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Settles once every task queued so far has (never rejects). */
  idle(): Promise<unknown> {
    return this.tail;
  }
}
