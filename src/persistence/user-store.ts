/** API users (callers of the SOAP interfaces). */
import type { EntityManager } from 'typeorm';
import type { CallerRole } from '../domain/roles.js';
import type { ApiUser, UserStore } from '../services/ports.js';
import { ApiUserEntity, type ApiUserRow } from './entities.js';

function toUser(r: ApiUserRow): ApiUser {
  return {
    username: r.username,
    role: r.role as CallerRole,
    passwordHash: r.passwordHash,
    passwordSealed: r.passwordSealed,
    disabled: Boolean(r.disabled),
    failedLogins: r.failedLogins,
    ...(r.lockedUntil !== null ? { lockedUntil: r.lockedUntil } : {}),
  };
}

export class TypeormUserStore implements UserStore {
  constructor(private readonly em: EntityManager) {}

  private get repo() {
    return this.em.getRepository(ApiUserEntity);
  }

  async get(username: string): Promise<ApiUser | undefined> {
    const r = await this.repo.findOneBy({ username });
    return r ? toUser(r) : undefined;
  }

  async save(user: ApiUser, at: number): Promise<void> {
    const existing = await this.repo.findOneBy({ username: user.username });
    await this.repo.save({
      username: user.username,
      role: user.role,
      passwordHash: user.passwordHash,
      passwordSealed: user.passwordSealed,
      disabled: user.disabled,
      failedLogins: user.failedLogins,
      lockedUntil: user.lockedUntil ?? null,
      createdAt: existing?.createdAt ?? at,
      updatedAt: at,
    });
  }

  async recordFailure(username: string, failedLogins: number, lockedUntil: number | undefined, at: number) {
    await this.repo.update({ username }, { failedLogins, lockedUntil: lockedUntil ?? null, updatedAt: at });
  }

  async recordSuccess(username: string, at: number): Promise<void> {
    await this.repo.update({ username }, { failedLogins: 0, lockedUntil: null, updatedAt: at });
  }

  count(): Promise<number> {
    return this.repo.count();
  }
}
