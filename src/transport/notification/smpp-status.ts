/**
 * SMPP 3.4 command_status values the senders act on, and what each means for
 * a retry. Names for every other value come from the `smpp` package's table.
 */
import smpp from 'smpp';

export const SmppStatus = {
  ESME_ROK: 0x00,
  ESME_RINVBNDSTS: 0x04,
  ESME_RALYBND: 0x05,
  ESME_RSYSERR: 0x08,
  ESME_RINVDSTADR: 0x0b,
  ESME_RBINDFAIL: 0x0d,
  ESME_RINVPASWD: 0x0e,
  ESME_RINVSYSID: 0x0f,
  ESME_RMSGQFUL: 0x14,
  ESME_RINVESMCLASS: 0x43,
  ESME_RTHROTTLED: 0x58,
  ESME_RINVCMDID: 0x03,
} as const;

const NAMES: ReadonlyMap<number, string> = new Map(Object.entries(smpp.errors).map(([name, code]) => [code, name]));

/** `ESME_RTHROTTLED (0x58)`, or the bare hex code for values SMPP 3.4 does not name. */
export function describeSmppStatus(status: number): string {
  const hex = `0x${status.toString(16).padStart(2, '0')}`;
  const name = NAMES.get(status);
  return name ? `${name} (${hex})` : `command_status ${hex}`;
}

/**
 * A submit_sm error worth retrying later: the SMSC is busy, not refusing
 * this message. Every other error status refuses the message itself.
 */
export function isRetryableSubmitStatus(status: number): boolean {
  return status === SmppStatus.ESME_RTHROTTLED || status === SmppStatus.ESME_RMSGQFUL;
}

/**
 * A bind refused for its credentials: a configuration error that retrying
 * with the same SMPP_URL cannot fix (other bind failures may be transient).
 */
export function isCredentialBindStatus(status: number): boolean {
  return status === SmppStatus.ESME_RINVPASWD || status === SmppStatus.ESME_RINVSYSID;
}
