/**
 * DM_MAX_IN_FLIGHT as one count per process for every DM endpoint: messages
 * that open a session (`POST /dm`, `POST /dm2`, a DM 2.0 report) served at
 * once. Each holds its body, parse tree, session state and reply; one more
 * is turned away (503) before its body is read. Messages of open sessions
 * never pass through it.
 *
 * DM_MAX_EVENT_LOOP_LAG_MS lowers that count while the event loop runs late,
 * to DM_IN_FLIGHT_WHEN_LATE: the in-flight cap bounds memory, not CPU, and a
 * process serving its full count of openings on two cores left its own
 * worker (dispatcher ticks, notifications) and SOAP reads waiting for
 * minutes. Not to none: a loop made late by other processes on the box is
 * not cured by refusing everything (a fleet bench on a box at load 10 fell
 * to a third of its sessions that way, the gateway at a quarter of a core).
 */
export interface LagShedding {
  /** Refuse openings while the loop runs later than this. */
  maxLagMs: number;
  /** The loop's current delay (event-loop-lag.ts). */
  lagMs: () => number;
  /** Openings served at once while the loop runs late. */
  inFlightWhenLate: number;
}

export class OpeningGate {
  private open = 0;

  /** `cap` 0: no cap; `shedding` absent: no refusal for lag. */
  constructor(
    readonly cap: number,
    private readonly shedding?: LagShedding,
  ) {}

  /** Whether openings pass through the gate at all (a cap or lag shedding). */
  get enabled(): boolean {
    return this.cap > 0 || this.shedding !== undefined;
  }

  /** The loop's delay now (0 without lag shedding), for the refusal log. */
  get lagMs(): number {
    return this.shedding?.lagMs() ?? 0;
  }

  /** Takes a place; false (nothing taken) when `cap` are in flight, or the lower count while the loop runs late. */
  tryEnter(): boolean {
    if (this.cap > 0 && this.open >= this.cap) return false;
    const s = this.shedding;
    if (s && this.open >= s.inFlightWhenLate && s.lagMs() > s.maxLagMs) return false;
    this.open += 1;
    return true;
  }

  leave(): void {
    this.open -= 1;
  }
}
