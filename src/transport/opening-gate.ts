/**
 * DM_MAX_IN_FLIGHT as one count per process for every DM endpoint: messages
 * that open a session (`POST /dm`, `POST /dm2`, a DM 2.0 report) served at
 * once. Each holds its body, parse tree, session state and reply; one more
 * is turned away (503) before its body is read. Messages of open sessions
 * never pass through it.
 */
export class OpeningGate {
  private open = 0;

  /** `cap` 0: no cap. */
  constructor(readonly cap: number) {}

  /** Takes a place; false (nothing taken) when `cap` are in flight. */
  tryEnter(): boolean {
    if (this.cap > 0 && this.open >= this.cap) return false;
    this.open += 1;
    return true;
  }

  leave(): void {
    this.open -= 1;
  }
}
