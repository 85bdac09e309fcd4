/** The work of `dmwsi user add|list|remove`, straight on the database of DATABASE_URL. */
import { loadConfig } from '../config/config.js';
import { DmwsiError } from '../domain/errors.js';
import { isRole } from '../domain/roles.js';
import { openDatabase } from '../persistence/data-source.js';
import { ApiUserEntity } from '../persistence/entities.js';
import { TypeormTransactor } from '../persistence/transactor.js';
import { hashPassword, verifyPassword } from '../security/password-hash.js';
import { loadSecretKey, SecretBox } from '../security/secret-box.js';
import { CallerAuthService } from '../services/caller-auth.js';
import { systemClock } from '../services/ports.js';
import { printJson, printLine } from './output.js';
import { table } from './table.js';

type DataSource = Awaited<ReturnType<typeof openDatabase>>;

async function withDatabase<T>(work: (ds: DataSource, config: ReturnType<typeof loadConfig>) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const ds = await openDatabase({ url: config.databaseUrl, schema: config.databaseSchema });
  try {
    return await work(ds, config);
  } finally {
    await ds.destroy();
  }
}

async function readPassword(fromStdin: boolean): Promise<string> {
  if (!fromStdin && process.env.DMWSI_NEW_USER_PASSWORD) return process.env.DMWSI_NEW_USER_PASSWORD;
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function addUser(username: string, role: string, fromStdin: boolean): Promise<void> {
  if (!isRole(role)) throw new DmwsiError('InvalidArgument', 'role must be admin, bulk, care or readonly');
  const password = await readPassword(fromStdin);
  await withDatabase(async (ds, config) => {
    const sealer = new SecretBox(loadSecretKey(config.secretKey, config.dataDir));
    const auth = new CallerAuthService({
      tx: new TypeormTransactor(ds, sealer),
      // Creating a user touches no session.
      sessions: {
        put: async () => undefined,
        get: async () => undefined,
        delete: async () => undefined,
        claimOnce: async () => true,
      },
      sealer,
      hasher: { hash: hashPassword, verify: verifyPassword },
      clock: systemClock,
      sessionTtlSeconds: config.userSessionTtlSeconds,
      maxSkewSeconds: config.wsSecurityMaxSkewSeconds,
    });
    await auth.createUser(username, password, role);
  });
  printLine(`user ${username} saved with role ${role}`);
}

interface UserSummary {
  username: string;
  role: string;
  disabled: boolean;
  locked: boolean;
  createdAt: string;
}

export async function listUsers(json: boolean): Promise<void> {
  const rows = await withDatabase((ds) => ds.getRepository(ApiUserEntity).find({ order: { username: 'ASC' } }));
  const now = Date.now();
  const users: UserSummary[] = rows.map((r) => ({
    username: r.username,
    role: r.role,
    disabled: Boolean(r.disabled),
    locked: r.lockedUntil !== null && Number(r.lockedUntil) > now,
    createdAt: new Date(Number(r.createdAt)).toISOString(),
  }));
  if (json) {
    printJson(users);
    return;
  }
  printLine(
    table(
      ['username', 'role', 'state', 'created'],
      users.map((u) => [u.username, u.role, u.disabled ? 'disabled' : u.locked ? 'locked' : 'active', u.createdAt]),
    ),
  );
}

export async function removeUser(username: string): Promise<void> {
  await withDatabase(async (ds) => {
    await ds.transaction(async (em) => {
      const repo = em.getRepository(ApiUserEntity);
      const user = await repo.findOneBy({ username });
      if (!user) throw new DmwsiError('NotFound', `user "${username}" does not exist`);
      if (user.role === 'admin' && (await repo.countBy({ role: 'admin' })) === 1) {
        throw new DmwsiError('InvalidState', `user "${username}" is the last admin; add another admin first`);
      }
      await repo.delete({ username });
    });
  });
  printLine(`user ${username} removed`);
}

