/**
 * Who is calling: API users with argon2id password hashes, WS-Security
 * UsernameToken (PasswordText, or PasswordDigest with a replay cache), and
 * userSession tokens from login. Repeated failures lock a user out for a
 * growing time.
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

const authFailed = (why = 'unknown user or wrong password') => new DmwsiError('AuthenticationFailed', why);

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
  private dummyHash: Promise<string> | undefined;

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

    const user = await this.usableUser(username);
    if (!user) {
      // Same work as for a real user, so timing does not reveal which names exist.
      await this.deps.hasher.verify(await this.dummy(), password);
      throw authFailed();
    }
    const ok = await this.deps.hasher.verify(user.passwordHash, password);
    const caller = await this.settle(user, ok);
    if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
    this.verified.set(key, { caller, until: now + VERIFIED_TTL_MS });
    return caller;
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
    const user = await this.usableUser(token.username);
    if (!user) throw authFailed();
    const password = this.deps.sealer.open(user.passwordSealed);
    const expected = crypto
      .createHash('sha1')
      .update(Buffer.concat([nonce, Buffer.from(token.created, 'utf8'), Buffer.from(password, 'utf8')]))
      .digest();
    const given = Buffer.from(token.digest, 'base64');
    const ok = given.length === expected.length && crypto.timingSafeEqual(given, expected);
    const caller = await this.settle(user, ok);
    const fresh = await this.deps.sessions.claimOnce(
      `wsse-nonce:${user.username}:${nonce.toString('base64')}`,
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

  private async usableUser(username: string): Promise<ApiUser | undefined> {
    const user = await this.deps.tx.stores.users.get(username);
    if (!user || user.disabled) return undefined;
    if (user.lockedUntil !== undefined && user.lockedUntil > this.deps.clock.now()) {
      throw authFailed('too many failed sign-ins: this user is locked for a while');
    }
    return user;
  }

  private async settle(user: ApiUser, ok: boolean): Promise<Caller> {
    const now = this.deps.clock.now();
    if (!ok) {
      const failures = user.failedLogins + 1;
      const lock = lockFor(failures);
      await this.deps.tx.stores.users.recordFailure(user.username, failures, lock ? now + lock : undefined, now);
      throw authFailed();
    }
    if (user.failedLogins > 0) await this.deps.tx.stores.users.recordSuccess(user.username, now);
    return { username: user.username, role: user.role };
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= this.deps.hasher.hash(crypto.randomBytes(16).toString('hex'));
    return this.dummyHash;
  }
}
