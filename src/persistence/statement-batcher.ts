/**
 * PostgreSQL: statements of one kind that a process makes outside any unit of work, coalesced while the
 * database is busy. An item goes out at once as its own statement while fewer than `lanes` of the
 * kind's statements are in flight; otherwise it waits for one to finish and then goes out in one
 * statement with every item that waited meanwhile (at most `maxBatch`). At low load nothing waits.
 * Used for task moves (move-batches.ts), task notes (task-store.ts) and reads by key (readBatcher,
 * below); why, and what a batch keeps of each item, is said there.
 *
 * A batch statement that fails has its items made again one by one (each in a statement of its own,
 * where its failure is its own). A statement still running after `patienceMs` (waiting for a row lock
 * a long unit of work holds) gives its lane back, so the items behind it go out meanwhile.
 */

/** What an item gets: `alone` (make it as its own statement, then call `done`), or its result from a batch. */
export type Turn<R> = { alone: true; done: () => void } | { alone: false; result: R };

export interface BatchKind<T, R> {
  readonly lanes: number;
  readonly maxBatch: number;
  readonly patienceMs: number;
  /** Keys no two items of one batch may share (a task's id: an UPDATE … FROM updates a row once). */
  keysOf(item: T): readonly string[];
  /** One statement for the items; their results in the items' order. */
  send(items: readonly T[]): Promise<readonly R[]>;
}

interface Waiting<T, R> {
  readonly item: T;
  readonly settle: (turn: Turn<R>) => void;
}

/** One per data source and kind (process-wide: the lanes are the process's). */
export class StatementBatcher<T, R> {
  private lanesTaken = 0;
  private readonly waiting: Waiting<T, R>[] = [];

  constructor(private readonly kind: BatchKind<T, R>) {}

  /** The item's turn: alone at once while a lane is free, otherwise in the next batch. */
  turn(item: T): Promise<Turn<R>> {
    if (this.lanesTaken < this.kind.lanes && this.waiting.length === 0) return Promise.resolve({ alone: true, done: this.takeLane() });
    return new Promise<Turn<R>>((settle) => this.waiting.push({ item, settle }));
  }

  /** The item's result: from its batch, or from `alone` (its own statement), made on the lane its turn gave it. */
  async run(item: T, alone: () => Promise<R>): Promise<R> {
    const turn = await this.turn(item);
    if (!turn.alone) return turn.result;
    try {
      return await alone();
    } finally {
      turn.done();
    }
  }

  /** Takes a lane for a statement; returns what gives it back once the statement is done (or after patienceMs). */
  private takeLane(): () => void {
    this.lanesTaken++;
    let held = true;
    const giveBack = () => {
      if (!held) return;
      held = false;
      clearTimeout(lapse);
      this.lanesTaken--;
      this.next();
    };
    const lapse = setTimeout(giveBack, this.kind.patienceMs);
    lapse.unref();
    return giveBack;
  }

  /** The waiting items' next statement, on a lane just freed. */
  private next(): void {
    if (this.waiting.length === 0 || this.lanesTaken >= this.kind.lanes) return;
    const batch = this.takeBatch();
    const done = this.takeLane();
    if (batch.length === 1) batch[0]!.settle({ alone: true, done });
    else void this.sendBatch(batch).finally(done);
  }

  /** The waiting items that go together: in arrival order, no two sharing a key. */
  private takeBatch(): Waiting<T, R>[] {
    const batch: Waiting<T, R>[] = [];
    const taken = new Set<string>();
    for (let i = 0; i < this.waiting.length && batch.length < this.kind.maxBatch; ) {
      const w = this.waiting[i]!;
      const keys = this.kind.keysOf(w.item);
      if (keys.some((k) => taken.has(k))) {
        i++;
        continue;
      }
      for (const k of keys) taken.add(k);
      batch.push(w);
      this.waiting.splice(i, 1);
    }
    return batch;
  }

  private async sendBatch(batch: Waiting<T, R>[]): Promise<void> {
    let results: readonly R[];
    try {
      results = await this.kind.send(batch.map((w) => w.item));
    } catch {
      // Made again one by one; outside the lanes, as failures are rare.
      for (const w of batch) w.settle({ alone: true, done: () => undefined });
      return;
    }
    for (const [i, w] of batch.entries()) w.settle({ alone: false, result: results[i]! });
  }
}

/**
 * Reads of a row each by key, made outside any unit of work (a DM message's device, a report's task in
 * context): those asked while one is out go together in one `= ANY` statement (`readMany`) when it
 * returns. One lane, at most 64 a statement; no key excludes another (a key asked twice is read once).
 * A read that waited was sent after it was asked for, so it sees every write committed before that.
 */
export function readBatcher<R>(readMany: (keys: string[]) => Promise<ReadonlyMap<string, R>>): StatementBatcher<string, R | undefined> {
  return new StatementBatcher<string, R | undefined>({
    lanes: 1,
    maxBatch: 64,
    patienceMs: 50,
    keysOf: () => [],
    send: async (keys) => {
      const found = await readMany([...keys]);
      return keys.map((k) => found.get(k));
    },
  });
}
