/**
 * Writes of a DM message carried by the first task move the message makes (PostgreSQL): the device's
 * contact (last contact, nonces, DevInfo, state) and a Generic Alert's record, each as a data-modifying
 * CTE of the move's statement instead of a statement of its own. In a rollout the arming session's
 * messages each write a contact and move the task; the report's first message writes a contact and
 * the alert's record and moves the task. Apart, each was a round trip of ~0.2 ms of the box's CPU
 * (client and server) on PostgreSQL with split roles.
 *
 * Whoever would write opens a ride around the work that may move a task (the DM device directory
 * around a message's effects, the alert log around the alert's consumers); a task move that commits by
 * itself (no unit of work around it, whose rollback would take the writes along while the message went
 * on) claims every open ride of its context and writes them in its statement: they and the move commit
 * together. What no move carried is written alone once the work is done. A ride is carried at most once
 * and never after its work ended (a move the work left running does not repeat it); a move whose
 * statement fails gives its claims back.
 *
 * A carried contact holds its device's row lock with the task's until the statement commits. Nothing
 * can wait on both the other way round: no unit of work locks a device row and then a task row (no
 * foreign key joins them; bootstrap sets the device's state and moves its task in units of their
 * own), and a device's messages are served one at a time (its message lock).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** A write that rides on a move: its CTE (named after its kind, `?` for each value) and its values. */
export interface Rider {
  /** The CTE's name; the statement text depends on the kinds only, so a kind's CTE text never changes. */
  readonly kind: 'contact' | 'alert';
  /** `"<kind>" AS (INSERT … | UPDATE …)`. */
  readonly cte: string;
  readonly values: readonly unknown[];
}

/**
 * A rider kind's write over many moves at once (move-batches.ts): its CTE, named as the single one, with
 * one array parameter (`?`) per value of its riders, in the order of their `values`.
 */
export interface RiderBatch {
  readonly cte: string;
  readonly arity: number;
}

interface Ride {
  readonly rider: Rider;
  state: 'open' | 'claimed' | 'closed';
  /** The ride its work runs in, if any (a message's contact around an alert's record). */
  readonly outer: Ride | undefined;
}

const rides = new AsyncLocalStorage<Ride>();

/**
 * Runs `work` with `rider` open for a move to carry; whether one did. No rider (SQLite, whose statements
 * run in process): the work runs as it is, and nothing was carried.
 */
export async function rideAlong<T>(rider: Rider | undefined, work: () => Promise<T>): Promise<{ result: T; carried: boolean }> {
  if (rider === undefined) return { result: await work(), carried: false };
  const ride: Ride = { rider, state: 'open', outer: rides.getStore() };
  try {
    const result = await rides.run(ride, work);
    return { result, carried: ride.state === 'claimed' };
  } finally {
    if (ride.state === 'open') ride.state = 'closed';
  }
}

/** The writes for this move to carry: every open ride of its context, innermost first; each now claimed. */
export function claimRiders(): Rider[] {
  const claimed: Rider[] = [];
  for (let ride = rides.getStore(); ride !== undefined; ride = ride.outer) {
    if (ride.state !== 'open') continue;
    ride.state = 'claimed';
    claimed.push(ride.rider);
  }
  return claimed;
}

/** Gives back the claims of a move whose statement failed: their writes are made alone after all. */
export function unclaimRiders(claimed: readonly Rider[]): void {
  for (let ride = rides.getStore(); ride !== undefined; ride = ride.outer) {
    if (ride.state === 'claimed' && claimed.includes(ride.rider)) ride.state = 'open';
  }
}
