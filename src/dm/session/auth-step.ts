/**
 * Authentication inside a session (notes §3), on top of the verdicts of
 * src/dm/auth/verify.ts:
 * - client credentials (CLCRED): md5/basic Cred in the SyncHdr, accepted once
 *   per session with 212 (+ Chal with the next session's md5 nonce); HMAC in
 *   the x-syncml-hmac header, checked on every message, 200 + a new NextNonce
 *   each time; 407/401 + Chal with the device's current nonce (a fresh one
 *   only when it has none), nothing stored (engine.ts `authFailure`);
 * - our credentials (SRVCRED): a Cred in our SyncHdr (md5/basic), or a MAC
 *   the caller computes over the encoded reply (hmac), and the device's
 *   answer to them in its header Status.
 */
import {
  AUTH_BASIC,
  basicCredential,
  decodeNonce,
  formatHmacHeader,
  hmacMac,
  md5Credential,
  userDigest,
} from '../auth/credentials.js';
import { type AuthFailureReason, buildChallenge, verifyClientCredential } from '../auth/verify.js';
import type { Chal, Cred, SyncMlMessage } from '../codec/types.js';
import { DEFAULT_MAX_AUTH_CHALLENGES, type DeviceAuthRecord, type SessionContext } from './context.js';
import type { SessionEffect } from './effects.js';
import type { SessionState } from './state.js';

export type ClientAuthOutcome =
  | { ok: true; status: 200 | 212; chal?: Chal; firstTime: boolean; effects: SessionEffect[] }
  | {
      ok: false;
      status: 401 | 407;
      chal?: Chal;
      /** The budget is spent: end the session. */
      giveUp: boolean;
      reason: AuthFailureReason;
      effects: SessionEffect[];
    };

/** True when this message must be checked: before the session is authenticated, and always for HMAC. */
export function needsClientAuth(state: SessionState, device: DeviceAuthRecord): boolean {
  return !state.auth.authenticated || device.authType === 'hmac';
}

/** Verifies the message's credentials and updates `state.auth`. */
export function authenticateClient(
  state: SessionState,
  msg: SyncMlMessage,
  device: DeviceAuthRecord,
  ctx: SessionContext,
): ClientAuthOutcome {
  const ids = { sessionId: state.sessionId, deviceId: state.deviceId };
  const nonceB64 = state.auth.clientNonce ?? device.clientNonce;
  const verdict = verifyClientCredential({
    stored: { authType: device.authType, username: device.clientUsername, password: device.clientPassword },
    nonce: nonceB64 === undefined || nonceB64 === '' ? undefined : decodeNonce(nonceB64),
    // Only before the session's first challenge: after it the client must use the nonce that Chal carried.
    ...(ctx.resyncNonce !== undefined && !state.auth.authenticated && state.auth.challengesSent === 0 && { fallbackNonce: ctx.resyncNonce }),
    cred: msg.header.cred,
    ...(msg.header.source.locName !== undefined && { locName: msg.header.source.locName }),
    ...(device.authType === 'hmac' && {
      hmac: { header: ctx.hmac?.header, body: ctx.hmac?.body ?? Buffer.alloc(0) },
    }),
    challengesSent: state.auth.challengesSent,
    maxChallenges: ctx.limits?.maxAuthChallenges ?? DEFAULT_MAX_AUTH_CHALLENGES,
  });
  const effects: SessionEffect[] = [];
  // A fresh nonce goes out with every Chal but basic's (which has no use for one).
  const issue = (): Chal => {
    if (device.authType === 'basic') return { meta: { type: AUTH_BASIC, format: 'b64' } };
    const nonce = ctx.newNonce().b64;
    state.auth.clientNonce = nonce;
    effects.push({ type: 'client-nonce-issued', ...ids, nonce });
    return buildChallenge(device.authType, nonce);
  };

  if (verdict.ok) {
    const firstTime = !state.auth.authenticated;
    state.auth.authenticated = true;
    if (verdict.nonceUsed === 'fallback') {
      effects.push({ type: 'resync-nonce-used', ...ids });
      // The client is in resync (it verified our trigger only on that nonce): the server nonce it holds is
      // not ours, and our Cred goes on the resync nonce as well, until its Chal hands us a new one (notes §4).
      state.serverAuth.nonce = ctx.resyncNonce!.toString('base64');
    }
    if (device.authType === 'hmac') return { ok: true, status: 200, chal: issue(), firstTime, effects };
    // 212: authenticated for the session; md5's Chal carries the next session's nonce.
    const chal = device.authType === 'md5' ? issue() : undefined;
    return { ok: true, status: 212, ...(chal && { chal }), firstTime, effects };
  }
  if (!verdict.rechallenge) {
    effects.push({ type: 'auth-failed', ...ids, status: verdict.status, reason: verdict.reason });
    return { ok: false, status: verdict.status, giveUp: true, reason: verdict.reason, effects };
  }
  state.auth.challengesSent += 1;
  const chal = rechallenge(state, device) ?? issue();
  effects.push({ type: 'auth-challenge', ...ids, status: verdict.status, reason: verdict.reason });
  return { ok: false, status: verdict.status, chal, giveUp: false, reason: verdict.reason, effects };
}

/**
 * The Chal of a 401/407: the nonce the device must use as it stands, not a
 * new one. Whoever sent the failed message has not proved to be the device,
 * so it may not change the device's nonce: anyone who knows a device id could
 * otherwise replace it with every message of a flood, and the real device,
 * whose retry is computed over the nonce it was just sent, would fail its
 * challenge for as long as the flood lasts. Handing out the current nonce
 * gives nothing away (a nonce is no secret) and still tells a device that
 * holds a stale one which to use. Undefined when the device has none yet (a
 * new one is issued then) and for basic, which uses no nonce.
 */
function rechallenge(state: SessionState, device: DeviceAuthRecord): Chal | undefined {
  if (device.authType === 'basic') return undefined;
  const current = state.auth.clientNonce ?? device.clientNonce;
  return current === undefined || current === '' ? undefined : buildChallenge(device.authType, current);
}

/**
 * Our SyncHdr Cred, while the device has not answered 212 to it. md5 needs a
 * server nonce: without one we send none and let the device challenge us.
 * HMAC devices get no Cred (the MAC travels in the HTTP header).
 */
export function serverCred(state: SessionState, device: DeviceAuthRecord): Cred | undefined {
  if (!state.serverAuth.sendCred) return undefined;
  if (device.authType === 'basic') {
    return { meta: { type: AUTH_BASIC, format: 'b64' }, data: basicCredential(device.serverId, device.serverPassword) };
  }
  if (device.authType === 'md5' && state.serverAuth.nonce !== undefined && state.serverAuth.nonce !== '') {
    const digest = userDigest(device.serverId, device.serverPassword);
    return {
      meta: { type: 'syncml:auth-md5', format: 'b64' },
      data: md5Credential(digest, decodeNonce(state.serverAuth.nonce)),
    };
  }
  return undefined;
}

/** What the caller needs to put x-syncml-hmac on a reply to an HMAC device. */
export interface ReplySigner {
  /** Our SRVCRED name (ServerID). */
  username: string;
  /** B64(MD5(serverId:serverPassword)). */
  userDigest: string;
  /** The device's current nonce for us, base64. */
  nonce: string;
}

export function replySigner(state: SessionState, device: DeviceAuthRecord): ReplySigner | undefined {
  if (device.authType !== 'hmac') return undefined;
  return {
    username: device.serverId,
    userDigest: userDigest(device.serverId, device.serverPassword),
    nonce: state.serverAuth.nonce ?? '',
  };
}

/** The x-syncml-hmac header value for the encoded reply body. */
export function signReply(signer: ReplySigner, body: Buffer): string {
  return formatHmacHeader({
    algorithm: 'MD5',
    username: signer.username,
    mac: hmacMac(signer.userDigest, decodeNonce(signer.nonce), body),
  });
}

export type ServerAuthAnswer = 'accepted-session' | 'accepted-message' | 'rejected' | 'ignored';

/**
 * Applies the device's Status for one of our SyncHdrs: 212 stops our Cred,
 * 401/407 stores the Chal's nonce (effect `server-nonce-issued`) and counts a
 * rejection.
 */
export function applyServerAuthStatus(
  state: SessionState,
  status: { data: number; chal?: Chal },
  effects: SessionEffect[],
): ServerAuthAnswer {
  const ids = { sessionId: state.sessionId, deviceId: state.deviceId };
  const nonce = status.chal?.meta.nextNonce;
  if (nonce !== undefined && nonce !== '' && nonce !== state.serverAuth.nonce) {
    state.serverAuth.nonce = nonce;
    effects.push({ type: 'server-nonce-issued', ...ids, nonce });
  }
  if (status.data === 212) {
    state.serverAuth.sendCred = false;
    state.serverAuth.rejections = 0;
    return 'accepted-session';
  }
  if (status.data === 401 || status.data === 407) {
    state.serverAuth.sendCred = true;
    state.serverAuth.rejections += 1;
    return 'rejected';
  }
  if (status.data >= 200 && status.data < 300) {
    state.serverAuth.rejections = 0;
    return 'accepted-message';
  }
  return 'ignored';
}
