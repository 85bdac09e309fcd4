/**
 * A per-process bound on argon2 work. Each hash or verification holds ~19 MiB
 * and ~15 ms of a core, and a PasswordText call or a login reaches it before
 * any per-caller budget (the caller is not known until the password is
 * checked). Beyond the bound a call is refused with Overloaded at once rather
 * than queued, so a flood of sign-ins holds no memory while it waits.
 */
import { DmwsiError } from '../domain/errors.js';
import type { PasswordHasher } from './caller-auth.js';

export function boundedPasswordHasher(hasher: PasswordHasher, maxConcurrent: number): PasswordHasher {
  let running = 0;
  const bounded = async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= maxConcurrent) {
      throw new DmwsiError('Overloaded', 'too many passwords are being checked at once; retry shortly');
    }
    running++;
    try {
      return await work();
    } finally {
      running--;
    }
  };
  return {
    hash: (password) => bounded(() => hasher.hash(password)),
    verify: (phc, password) => bounded(() => hasher.verify(phc, password)),
  };
}
