/**
 * The server's decision on a client's credentials (notes §3), as a value.
 *
 * Pure: the caller looks the device up, passes what it stored and what the
 * message carried, and applies the verdict (header Status, Chal with a new
 * nonce, persisting that nonce). Nothing here remembers anything between
 * calls; every rule that depends on history is an explicit input.
 */
import type { Chal, Cred } from '../codec/types.js';
import {
  AUTH_META_TYPE,
  authTypeFromMeta,
  type DeviceAuthType,
  type HmacHeader,
  hmacMac,
  md5Credential,
  parseBasicCredential,
  parseHmacHeader,
  timingSafeEqualString,
  userDigest as computeUserDigest,
} from './credentials.js';

/** What the server stored for the device (its CLCRED). */
export interface StoredClientCredential {
  authType: DeviceAuthType;
  /** AAuthName: the user the client authenticates as. */
  username: string;
  /** B64(MD5(username:password)); preferred for md5/hmac and enough for basic. */
  userDigest?: string;
  /** Plain password; only needed when no userDigest is stored. */
  password?: string;
}

export interface VerifyInput {
  stored: StoredClientCredential;
  /** The nonce the server last issued in a Chal (raw bytes); undefined if none. */
  nonce: Buffer | undefined;
  /**
   * A second nonce to accept, once. Pass the previous nonce when the client
   * may not have seen the latest Chal, or the 4-zero-byte nonce after a
   * Package#0 nonce resync (notes §4). The verdict says when it matched so the
   * caller can issue a fresh nonce and stop passing this one: accepting it
   * "once" is the caller's persisted fact, not state kept here.
   */
  fallbackNonce?: Buffer;
  /** The SyncHdr Cred, if any. */
  cred: Cred | undefined;
  /** SyncHdr Source/LocName; checked against the stored user when present. */
  locName?: string;
  /** For hmac: the raw x-syncml-hmac header value (or already parsed) and the exact body bytes. */
  hmac?: { header: string | HmacHeader | undefined; body: Buffer };
  /**
   * Challenges (401/407) already sent for this authentication in this session.
   * With `maxChallenges` it implements "allow one more challenge with a fresh
   * nonce": the client may hold a stale nonce, so one failure earns a retry.
   */
  challengesSent: number;
  /** Default 2: the first challenge plus one more with a fresh nonce. */
  maxChallenges?: number;
}

export type AuthFailureReason =
  | 'missing-credentials'
  | 'wrong-type'
  | 'malformed-credentials'
  | 'wrong-user'
  | 'bad-credentials'
  | 'no-nonce-issued'
  | 'unsupported-algorithm'
  | 'no-stored-secret';

export type AuthVerdict =
  | {
      ok: true;
      /** session → header Status 212 (md5/basic); message → 200 (hmac, per message). */
      level: 'session' | 'message';
      status: 212 | 200;
      /** 'fallback' when `fallbackNonce` matched: rotate the nonce now. */
      nonceUsed: 'current' | 'fallback' | 'none';
    }
  | {
      ok: false;
      /** 407 = credentials missing, 401 = wrong or of the wrong type. */
      status: 401 | 407;
      reason: AuthFailureReason;
      /**
       * True: answer with this status plus a Chal carrying a fresh nonce.
       * False: the challenge budget is spent; answer without a new Chal and
       * let the session end.
       */
      rechallenge: boolean;
    };

const DEFAULT_MAX_CHALLENGES = 2;

export function verifyClientCredential(input: VerifyInput): AuthVerdict {
  const fail = (status: 401 | 407, reason: AuthFailureReason): AuthVerdict => ({
    ok: false,
    status,
    reason,
    rechallenge: input.challengesSent < (input.maxChallenges ?? DEFAULT_MAX_CHALLENGES),
  });
  const { stored } = input;
  const digest = storedDigest(stored);

  if (stored.authType === 'hmac') {
    const header = input.hmac?.header;
    if (header === undefined) {
      // A Cred of any type instead of the header is the wrong scheme.
      return input.cred === undefined ? fail(407, 'missing-credentials') : fail(401, 'wrong-type');
    }
    const parsed = typeof header === 'string' ? parseHmacHeader(header) : header;
    if (parsed === undefined) return fail(401, 'malformed-credentials');
    if (parsed.algorithm !== 'MD5') return fail(401, 'unsupported-algorithm');
    if (!timingSafeEqualString(parsed.username, stored.username)) return fail(401, 'wrong-user');
    if (digest === undefined) return fail(401, 'no-stored-secret');
    const body = input.hmac!.body;
    const matched = matchNonce(input, (n) => timingSafeEqualString(hmacMac(digest, n, body), parsed.mac));
    if (matched === 'no-nonce') return fail(401, 'no-nonce-issued');
    if (matched === undefined) return fail(401, 'bad-credentials');
    return { ok: true, level: 'message', status: 200, nonceUsed: matched };
  }

  const cred = input.cred;
  if (cred === undefined || cred.data.trim() === '') return fail(407, 'missing-credentials');
  if (authTypeFromMeta(cred.meta?.type) !== stored.authType) return fail(401, 'wrong-type');
  // b64 is the only format defined for both schemes; absent means b64.
  if (cred.meta?.format !== undefined && cred.meta.format.trim().toLowerCase() !== 'b64') {
    return fail(401, 'malformed-credentials');
  }
  if (input.locName !== undefined && !timingSafeEqualString(input.locName, stored.username)) {
    return fail(401, 'wrong-user');
  }

  if (stored.authType === 'basic') {
    const presented = parseBasicCredential(cred.data, stored.username);
    if (presented === undefined) return fail(401, 'malformed-credentials');
    const userOk = timingSafeEqualString(presented.user, stored.username);
    // Compare the password when stored, else its user digest: both constant time.
    let secretOk: boolean;
    if (stored.password !== undefined) {
      secretOk = timingSafeEqualString(presented.password, stored.password);
    } else if (digest !== undefined) {
      secretOk = timingSafeEqualString(computeUserDigest(presented.user, presented.password), digest);
    } else {
      return fail(401, 'no-stored-secret');
    }
    if (!userOk) return fail(401, 'wrong-user');
    if (!secretOk) return fail(401, 'bad-credentials');
    return { ok: true, level: 'session', status: 212, nonceUsed: 'none' };
  }

  if (digest === undefined) return fail(401, 'no-stored-secret');
  const data = cred.data.trim();
  const matched = matchNonce(input, (n) => timingSafeEqualString(md5Credential(digest, n), data));
  if (matched === 'no-nonce') return fail(401, 'no-nonce-issued');
  if (matched === undefined) return fail(401, 'bad-credentials');
  return { ok: true, level: 'session', status: 212, nonceUsed: matched };
}

/** The Chal to send with a 401/407 (or with 212/200 to hand over the next nonce). */
export function buildChallenge(authType: DeviceAuthType, nonceB64: string): Chal {
  return { meta: { type: AUTH_META_TYPE[authType], format: 'b64', nextNonce: nonceB64 } };
}

function storedDigest(stored: StoredClientCredential): string | undefined {
  if (stored.userDigest !== undefined) return stored.userDigest;
  if (stored.password !== undefined) return computeUserDigest(stored.username, stored.password);
  return undefined;
}

/** Tries the current nonce, then the fallback; both are always computed so timing does not say which. */
function matchNonce(
  input: VerifyInput,
  check: (nonce: Buffer) => boolean,
): 'current' | 'fallback' | 'no-nonce' | undefined {
  if (input.nonce === undefined && input.fallbackNonce === undefined) return 'no-nonce';
  const current = input.nonce !== undefined && check(input.nonce);
  const fallback = input.fallbackNonce !== undefined && check(input.fallbackNonce);
  if (current) return 'current';
  if (fallback) return 'fallback';
  return undefined;
}
