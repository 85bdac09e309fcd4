/**
 * Who is calling: API users with argon2id password hashes, WS-Security
 * UsernameToken (PasswordText, or PasswordDigest with a replay cache), and
 * userSession tokens from login. Repeated failures lock a user out for a
 * growing time. Every user name, known or not, disabled or locked, costs the
 * same work and gets the same answer, so names cannot be enumerated.
 */
import crypto from 'node:crypto';
import { DmwsiError, invalidArgument } from '../domain/errors.js';
import { type Caller, type CallerRole, isRole } from '../domain/roles.js';
import { decodeCanonicalBase64 } from '../security/canonical-base64.js';
import type { ApiUser, Clock, Sealer, SessionStore, Transactor } from './ports.js';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(phc: string, password: string): Promise<boolean>;
}

export interface CallerAuthDeps {
  tx: Transactor;
  sessions: SessionStore;
  sealer: Sealer;
  hasher: PasswordHasher;
  clock: Clock;
  sessionTtlSeconds: number;
  /** How far a PasswordDigest's Created may be from now. */
  maxSkewSeconds: number;
}

export interface DigestToken {
  username: string;
  /** base64 of SHA-1(nonce + created + password). */
  digest: string;
  /** base64 nonce as sent. */
  nonce: string;
  created: string;
}

const FREE_FAILURES = 5;
const MAX_LOCK_MS = 15 * 60_000;
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;

/** The one answer to a refused user name and password, whatever the reason (unknown, wrong, disabled, locked). */
export const CREDENTIALS_REFUSED = 'user name or password not accepted';

const authFailed = (why = CREDENTIALS_REFUSED) => new DmwsiError('AuthenticationFailed', why);

function lockFor(failures: number): number {
  return failures < FREE_FAILURES ? 0 : Math.min(MAX_LOCK_MS, 30_000 * 2 ** (failures - FREE_FAILURES));
}

function sha256(s: string): Buffer {
  return crypto.createHash('sha256').update(s).digest();
}

export class CallerAuthService {
  /**
   * Successful PasswordText checks, for a minute: argon2 is deliberately slow
   * (~15 ms), and an OSS system sends the same UsernameToken on every call.
   * Keyed by a hash of user and password; never persisted.
   */
  private readonly verified = new Map<string, { caller: Caller; until: number }>();
  /** Checks under way, by the same key: a burst of calls with one token costs one argon2 run. */
  private readonly checking = new Map<string, Promise<Caller>>();
  private dummyHash: Promise<string> | undefined;
  private dummySealed: string | undefined;

  constructor(private readonly deps: CallerAuthDeps) {}

  async createUser(username: string, password: string, role: CallerRole): Promise<void> {
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(username)) {
      throw invalidArgument('username', 'must be 1-64 letters, digits or . _ @ -');
    }
    if (password.length < 8 || password.length > 256) {
      throw invalidArgument('password', 'must have 8 to 256 characters');
    }
    if (!isRole(role)) throw invalidArgument('role', 'must be admin, bulk, care or readonly');
    const user: ApiUser = {
      username,
      role,
      passwordHash: await this.deps.hasher.hash(password),
      passwordSealed: this.deps.sealer.seal(password),
      disabled: false,
      failedLogins: 0,
    };
    await this.deps.tx.stores.users.save(user, this.deps.clock.now());
    this.verified.clear();
  }

  /** Creates the first admin when the user table is empty. Returns whether it did. */
  async ensureFirstAdmin(username: string, password: string | undefined): Promise<boolean> {
    if ((await this.deps.tx.stores.users.count()) > 0 || password === undefined) return false;
    await this.createUser(username, password, 'admin');
    return true;
  }

  async verifyPassword(username: string, password: string): Promise<Caller> {
    const key = sha256(`${username}\0${password}`).toString('base64');
    const hit = this.verified.get(key);
    const now = this.deps.clock.now();
    if (hit && hit.until > now) return hit.caller;
    const pending = this.checking.get(key);
    if (pending) return pending;
    const check = this.checkPassword(username, password).finally(() => this.checking.delete(key));
    this.checking.set(key, check);
    const caller = await check;
    if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
    this.verified.set(key, { caller, until: now + VERIFIED_TTL_MS });
    return caller;
  }

  private async checkPassword(username: string, password: string): Promise<Caller> {
    const user = await this.deps.tx.stores.users.get(username);
    // An unknown name is checked against a dummy hash with the same parameters: one argon2 run for every name.
    const ok = await this.deps.hasher.verify(user?.passwordHash ?? (await this.dummy()), password);
    return this.settle(username, user, ok);
  }

  async verifyDigest(token: DigestToken): Promise<Caller> {
    const created = Date.parse(token.created);
    const now = this.deps.clock.now();
    if (Number.isNaN(created) || Math.abs(now - created) > this.deps.maxSkewSeconds * 1000) {
      throw authFailed('UsernameToken Created is missing or outside the allowed clock skew');
    }
    // Canonical only: the replay cache is keyed on the bytes, and a lenient decoder would let a
    // captured request be replayed with its nonce spelt another way (unpadded, junk, URL-safe).
    const nonce = decodeCanonicalBase64(token.nonce);
    if (!nonce) throw authFailed('UsernameToken Nonce must be canonical base64 (standard alphabet, padded)');
    if (nonce.length < 8) throw authFailed('UsernameToken Nonce must carry at least 8 bytes');
    const user = await this.deps.tx.stores.users.get(token.username);
    // An unknown name opens a dummy sealed password: the same decryption and digest as a known one.
    this.dummySealed ??= this.deps.sealer.seal(crypto.randomBytes(16).toString('hex'));
    const password = this.deps.sealer.open(user?.passwordSealed ?? this.dummySealed);
    const expected = crypto
      .createHash('sha1')
      .update(Buffer.concat([nonce, Buffer.from(token.created, 'utf8'), Buffer.from(password, 'utf8')]))
      .digest();
    const given = Buffer.from(token.digest, 'base64');
    const ok = given.length === expected.length && crypto.timingSafeEqual(given, expected);
    const caller = await this.settle(token.username, user, ok);
    const fresh = await this.deps.sessions.claimOnce(
      `wsse-nonce:${caller.username}:${nonce.toString('base64')}`,
      this.deps.maxSkewSeconds * 2,
    );
    if (!fresh) throw authFailed('UsernameToken Nonce was already used (replay)');
    return caller;
  }

  async login(username: string, password: string): Promise<string> {
    const caller = await this.verifyPassword(username, password);
    const token = crypto.randomBytes(32).toString('base64url');
    await this.deps.sessions.put(this.sessionKey(token), JSON.stringify(caller), this.deps.sessionTtlSeconds);
    return token;
  }

  async logout(token: string): Promise<void> {
    await this.deps.sessions.delete(this.sessionKey(token));
  }

  async resolveSession(token: string): Promise<Caller> {
    const raw = await this.deps.sessions.get(this.sessionKey(token));
    if (!raw) throw authFailed('userSession is unknown or expired; log in again');
    return JSON.parse(raw) as Caller;
  }

  /** Redis holds a hash of the token, so a copy of Redis does not hand out sessions. */
  private sessionKey(token: string): string {
    return `user-session:${sha256(token).toString('base64url')}`;
  }

  /**
   * The outcome of a checked password, decided after the same work for every
   * name. Every refusal writes the failure count, an unknown name included
   * (an update that matches no row), so a wrong password for a real user
   * takes no longer than any password for a made-up one; the answer's text is
   * the same too. A right password while locked or disabled counts no failure.
   */
  private async settle(username: string, user: ApiUser | undefined, ok: boolean): Promise<Caller> {
    const now = this.deps.clock.now();
    const locked = user?.lockedUntil !== undefined && user.lockedUntil > now;
    if (user && ok && !user.disabled && !locked) {
      if (user.failedLogins > 0) await this.deps.tx.stores.users.recordSuccess(user.username, now);
      return { username: user.username, role: user.role };
    }
    const failures = (user?.failedLogins ?? 0) + (ok ? 0 : 1);
    const lock = ok ? 0 : lockFor(failures);
    const until = lock ? now + lock : locked ? user?.lockedUntil : undefined;
    await this.deps.tx.stores.users.recordFailure(username, failures, until, now);
    throw authFailed();
  }

  private dummy(): Promise<string> {
    // A refused hash (Overloaded) is not kept: the next unknown name tries again.
    this.dummyHash ??= this.deps.hasher.hash(crypto.randomBytes(16).toString('hex')).catch((err: unknown) => {
      this.dummyHash = undefined;
      throw err;
    });
    return this.dummyHash;
  }
}
