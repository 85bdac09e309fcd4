/** login and logout, offered on all three services. */
import { invalidArgument } from '../../domain/errors.js';
import type { CallerAuthService } from '../../services/caller-auth.js';
import type { OperationHandlers } from './types.js';

export function sessionHandlers(auth: CallerAuthService): OperationHandlers {
  return {
    login: async (_ctx, args) => ({
      userSession: await auth.login(args.username as string, args.password as string),
    }),
    logout: async (ctx) => {
      if (!ctx.userSession) throw invalidArgument('userSession', 'logout needs the userSession to end');
      await auth.logout(ctx.userSession);
      return {};
    },
  };
}
