/**
 * CallerAuthService against in-memory ports: every user name costs the same
 * work and gets the same answer, and argon2 work is bounded per process.
 */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DmwsiError } from '../../../src/domain/errors.js';
import { SecretBox } from '../../../src/security/secret-box.js';
import { boundedPasswordHasher } from '../../../src/services/bounded-password-hasher.js';
import { CallerAuthService, type DigestToken, type PasswordHasher } from '../../../src/services/caller-auth.js';
import type { ApiUser, Sealer, Transactor } from '../../../src/services/ports.js';

const PASSWORD = 'right-password-1';
const NOW = Date.parse('2026-03-01T12:00:00Z');

/** What the service did for one call: argon2 runs, sealed passwords opened, failure writes. */
interface Work {
  verifies: number;
  opens: number;
  failureWrites: number;
}

function rig(hasher?: PasswordHasher) {
  const users = new Map<string, ApiUser>();
  const work: Work = { verifies: 0, opens: 0, failureWrites: 0 };
  const box = new SecretBox(crypto.randomBytes(32));
  const sealer: Sealer = {
    seal: (p) => box.seal(p),
    open: (s) => {
      work.opens++;
      return box.open(s);
    },
  };
  const plainHasher: PasswordHasher = {
    hash: async (p) => `hash:${p}`,
    verify: async (phc, p) => {
      work.verifies++;
      return phc === `hash:${p}`;
    },
  };
  const stores = {
    users: {
      get: async (name: string) => {
        const u = users.get(name);
        return u && { ...u };
      },
      save: async (u: ApiUser) => void users.set(u.username, { ...u }),
      recordFailure: async (name: string, failedLogins: number, lockedUntil: number | undefined) => {
        work.failureWrites++;
        const u = users.get(name);
        if (u) users.set(name, { ...u, failedLogins, ...(lockedUntil !== undefined ? { lockedUntil } : { lockedUntil: undefined }) });
      },
      recordSuccess: async (name: string) => {
        const u = users.get(name);
        if (u) users.set(name, { ...u, failedLogins: 0, lockedUntil: undefined });
      },
      count: async () => users.size,
    },
  };
  const claimed = new Set<string>();
  const auth = new CallerAuthService({
    tx: { stores, run: (w: (s: never) => Promise<unknown>) => w(stores as never) } as unknown as Transactor,
    sessions: {
      put: async () => undefined,
      get: async () => undefined,
      delete: async () => undefined,
      claimOnce: async (k) => !claimed.has(k) && Boolean(claimed.add(k)),
    },
    sealer,
    hasher: hasher ?? plainHasher,
    clock: { now: () => NOW },
    sessionTtlSeconds: 3600,
    maxSkewSeconds: 300,
  });
  const measure = async (attempt: () => Promise<unknown>): Promise<{ work: Work; message: string }> => {
    const before = { ...work };
    const message = await attempt().then(
      () => 'accepted',
      (err: unknown) => (err instanceof DmwsiError ? `${err.code}: ${err.message}` : String(err)),
    );
    return {
      message,
      work: { verifies: work.verifies - before.verifies, opens: work.opens - before.opens, failureWrites: work.failureWrites - before.failureWrites },
    };
  };
  return { auth, users, measure };
}

function digestToken(username: string, password: string): DigestToken {
  const nonce = crypto.randomBytes(16);
  const created = new Date(NOW).toISOString();
  const digest = crypto.createHash('sha1').update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(password)])).digest('base64');
  return { username, digest, nonce: nonce.toString('base64'), created };
}

/** One known user per refusable state, and the password each attempt uses. */
async function refusals() {
  const r = rig();
  for (const name of ['wrong', 'disabled', 'locked']) await r.auth.createUser(name, PASSWORD, 'care');
  r.users.set('disabled', { ...r.users.get('disabled')!, disabled: true });
  r.users.set('locked', { ...r.users.get('locked')!, failedLogins: 5, lockedUntil: NOW + 60_000 });
  // Warm the dummy hash and sealed password, made once per process.
  await r.auth.verifyPassword('warm-up', 'x').catch(() => undefined);
  await r.auth.verifyDigest(digestToken('warm-up', 'x')).catch(() => undefined);
  const cases: [string, string][] = [
    ['unknown', PASSWORD],
    ['wrong', 'not-the-password'],
    ['disabled', PASSWORD],
    ['locked', PASSWORD],
  ];
  return { ...r, cases };
}

describe('refused sign-ins', () => {
  it('costs one argon2 run and one failure write for every refused name on PasswordText and login', async () => {
    const { auth, measure, cases } = await refusals();
    for (const [name, password] of cases) {
      expect([name, (await measure(() => auth.verifyPassword(name, password))).work]).toEqual([
        name,
        { verifies: 1, opens: 0, failureWrites: 1 },
      ]);
      expect([name, (await measure(() => auth.login(name, `${password}-2`))).work]).toEqual([
        name,
        { verifies: 1, opens: 0, failureWrites: 1 },
      ]);
    }
  });

  it('opens one sealed password and writes one failure for every refused name on PasswordDigest', async () => {
    const { auth, measure, cases } = await refusals();
    for (const [name, password] of cases) {
      expect([name, (await measure(() => auth.verifyDigest(digestToken(name, password)))).work]).toEqual([
        name,
        { verifies: 0, opens: 1, failureWrites: 1 },
      ]);
    }
  });

  it('answers unknown, wrong, disabled and locked alike on every path', async () => {
    const { auth, measure, cases } = await refusals();
    const messages = new Set<string>();
    for (const [name, password] of cases) {
      messages.add((await measure(() => auth.verifyPassword(name, password))).message);
      messages.add((await measure(() => auth.login(name, password))).message);
      messages.add((await measure(() => auth.verifyDigest(digestToken(name, password)))).message);
    }
    expect([...messages]).toEqual(['AuthenticationFailed: user name or password not accepted']);
  });

  it('locks after five failures and counts no failure for the right password while locked', async () => {
    const { auth, users } = rig();
    await auth.createUser('victim', PASSWORD, 'care');
    for (let i = 0; i < 5; i++) await auth.verifyPassword('victim', `wrong-${i}`).catch(() => undefined);
    expect(users.get('victim')).toMatchObject({ failedLogins: 5, lockedUntil: NOW + 30_000 });
    await expect(auth.verifyPassword('victim', PASSWORD)).rejects.toThrow('user name or password not accepted');
    expect(users.get('victim')).toMatchObject({ failedLogins: 5, lockedUntil: NOW + 30_000 });
  });

  it('accepts the right password and digest of a usable user', async () => {
    const { auth } = rig();
    await auth.createUser('ok', PASSWORD, 'bulk');
    await expect(auth.verifyPassword('ok', PASSWORD)).resolves.toEqual({ username: 'ok', role: 'bulk' });
    await expect(auth.verifyDigest(digestToken('ok', PASSWORD))).resolves.toEqual({ username: 'ok', role: 'bulk' });
  });
});

/** A hasher whose verifications wait until released, counting those started. */
function slowHasher() {
  const waiting: (() => void)[] = [];
  let started = 0;
  const hasher: PasswordHasher = {
    hash: async (p) => `hash:${p}`,
    verify: async (phc, p) => {
      started++;
      await new Promise<void>((resolve) => waiting.push(resolve));
      return phc === `hash:${p}`;
    },
  };
  return { hasher, started: () => started, release: () => {
      for (const r of waiting.splice(0)) r();
    },
  };
}

describe('argon2 bound per process', () => {
  it('refuses a verification beyond the bound with Overloaded at once, and takes new ones once they finish', async () => {
    const slow = slowHasher();
    const { auth } = rig(boundedPasswordHasher(slow.hasher, 2));
    await auth.createUser('a', PASSWORD, 'care');
    await auth.createUser('b', PASSWORD, 'care');
    const first = [auth.verifyPassword('a', PASSWORD), auth.verifyPassword('b', PASSWORD)];
    await new Promise((r) => setTimeout(r, 10));
    expect(slow.started()).toBe(2);
    const third = await auth.verifyPassword('a', 'another-password').catch((e: unknown) => e);
    expect(third).toBeInstanceOf(DmwsiError);
    expect((third as DmwsiError).code).toBe('Overloaded');
    expect(slow.started()).toBe(2);
    slow.release();
    await Promise.all(first);
    const again = auth.verifyPassword('b', 'another-password').catch((e: unknown) => (e as DmwsiError).code);
    await new Promise((r) => setTimeout(r, 10));
    slow.release();
    expect(await again).toBe('AuthenticationFailed');
  });

  it('checks a burst of calls with one token with one argon2 run', async () => {
    const slow = slowHasher();
    const { auth } = rig(boundedPasswordHasher(slow.hasher, 1));
    await auth.createUser('oss', PASSWORD, 'bulk');
    const burst = Array.from({ length: 5 }, () => auth.verifyPassword('oss', PASSWORD));
    await new Promise((r) => setTimeout(r, 10));
    slow.release();
    expect(await Promise.all(burst)).toEqual(Array(5).fill({ username: 'oss', role: 'bulk' }));
    expect(slow.started()).toBe(1);
  });

  it('does not keep a dummy hash refused as Overloaded', async () => {
    let refuse = true;
    const { auth, measure } = rig({
      hash: async (p) => {
        if (refuse) throw new DmwsiError('Overloaded', 'busy');
        return `hash:${p}`;
      },
      verify: async (phc, p) => phc === `hash:${p}`,
    });
    expect((await measure(() => auth.verifyPassword('ghost', 'x'))).message).toMatch(/^Overloaded/);
    refuse = false;
    expect((await measure(() => auth.verifyPassword('ghost', 'x'))).message).toBe('AuthenticationFailed: user name or password not accepted');
  });
});
