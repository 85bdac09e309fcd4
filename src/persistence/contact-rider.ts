/**
 * A DM message's contact write (last contact, nonces, DevInfo, state) carried by the first task move the
 * message makes (PostgreSQL): one statement instead of two. A continuing message of an arming session
 * writes the device's new server nonce and moves its task to SCHEDULED; apart they were two of its five
 * statements, each a round trip of ~0.2 ms of the box's CPU (client and server).
 *
 * The DM device directory opens a ride around the work of applying a message's effects; a task move
 * that commits by itself (no unit of work around it, whose rollback would take the contact along while
 * the message went on) claims it and writes the contact in its statement, as a data-modifying CTE: the
 * contact and the move commit together. What no move claimed is written alone once the work is done. A
 * ride is claimed at most once and never after its work ended (a move the work left running, such as
 * a grouped note's, does not write a contact already written).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DeviceContactPatch } from '../domain/registry.js';

export interface ContactRide {
  readonly deviceId: string;
  readonly patch: DeviceContactPatch;
}

interface OpenRide extends ContactRide {
  state: 'open' | 'claimed' | 'closed';
}

const rides = new AsyncLocalStorage<OpenRide>();

/** Runs `work` with the contact open for a move to carry; whether one did. */
export async function rideContact<T>(deviceId: string, patch: DeviceContactPatch, work: () => Promise<T>): Promise<{ result: T; carried: boolean }> {
  const ride: OpenRide = { deviceId, patch, state: 'open' };
  try {
    const result = await rides.run(ride, work);
    return { result, carried: ride.state === 'claimed' };
  } finally {
    if (ride.state === 'open') ride.state = 'closed';
  }
}

/** The contact for this move to write, if the work it runs in has one no move took yet. */
export function claimContact(): ContactRide | undefined {
  const ride = rides.getStore();
  if (ride?.state !== 'open') return undefined;
  ride.state = 'claimed';
  return ride;
}

/** Gives back a claim whose statement was not sent (the move found nothing to do before it). */
export function unclaimContact(ride: ContactRide): void {
  const open = ride as OpenRide;
  if (open.state === 'claimed') open.state = 'open';
}
