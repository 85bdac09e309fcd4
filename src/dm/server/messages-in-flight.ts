/**
 * The messages a DM endpoint (1.2 or 2.0) is serving, so that a gateway
 * shutting down can wait for them before closing its database and Redis: a
 * message cut off half-way would leave its device's lock to lapse, and its
 * device waiting that long.
 */
export class MessagesInFlight {
  private count = 0;
  private idleWaiters: (() => void)[] = [];

  async serve<T>(message: () => Promise<T>): Promise<T> {
    this.count += 1;
    try {
      return await message();
    } finally {
      this.count -= 1;
      if (this.count === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** Resolves once no message is being served (or after `timeoutMs`). */
  idle(timeoutMs: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
