/**
 * A byte budget shared by several uploads (GlanceStore's maxBufferedBytes):
 * chunk buffers are counted from the moment an upload allocates one until
 * the upload is done with it, so all uploads together never hold more than
 * `limit` bytes of chunk buffers. An upload that already holds a buffer
 * always progresses on its own buffers (they come back when its writes
 * settle); one that needs a new buffer while the budget is spent waits for
 * any release. Fairness: while an upload holding nothing waits, the others
 * do not grow and give back each buffer they free beyond their last one.
 */
export class ByteBudget {
  readonly limit: number;
  #used = 0;
  #peak = 0;
  #waiters: Array<() => void> = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Uploads that hold no buffer and wait for their first. */
  #starving = 0;

  /** Whether an upload that holds nothing is waiting: the others should give back what they can. */
  get contended(): boolean {
    return this.#starving > 0;
  }

  /** Waits for the next release as an upload that holds nothing. */
  async starve(): Promise<void> {
    this.#starving++;
    try {
      await this.released();
    } finally {
      this.#starving--;
    }
  }

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** The most bytes ever held at once. */
  get peak(): number {
    return this.#peak;
  }

  /** Takes `n` bytes if they fit now. */
  tryAcquire(n: number): boolean {
    if (this.#used + n > this.limit) return false;
    this.#used += n;
    if (this.#used > this.#peak) this.#peak = this.#used;
    return true;
  }

  release(n: number): void {
    this.#used -= n;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves at the next release. */
  released(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
