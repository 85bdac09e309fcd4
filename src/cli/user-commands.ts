/**
 * `dmwsi user add|list|remove`: API users, managed on the server machine
 * straight in the database (DATABASE_URL), like `migrate`. Not over SOAP: the
 * first admin must be creatable before anyone can sign in. The database
 * modules load only when one of these runs (src/cli/user-admin.ts).
 */
import { Command, Option } from 'commander';

const admin = () => import('./user-admin.js');

export function buildUserCommand(): Command {
  const user = new Command('user').description('manage API users (in the database of DATABASE_URL, on the server machine)');
  user
    .command('add <username>')
    .description('create or replace an API user; the password comes from DMWSI_NEW_USER_PASSWORD or standard input')
    .addOption(new Option('--role <role>', 'the role').choices(['admin', 'bulk', 'care', 'readonly']).makeOptionMandatory())
    .option('--password-stdin', 'read the password from standard input even when DMWSI_NEW_USER_PASSWORD is set')
    .action(async (name: string, o: { role: string; passwordStdin?: boolean }) => (await admin()).addUser(name, o.role, Boolean(o.passwordStdin)));
  user
    .command('list')
    .description('the API users, their roles and whether they are locked')
    .option('--json', 'as JSON')
    .action(async (o: { json?: boolean }) => (await admin()).listUsers(Boolean(o.json)));
  user
    .command('remove <username>')
    .description("remove an API user (not the last admin); gateways stop accepting its password within a minute, its open userSessions at their expiry")
    .action(async (name: string) => (await admin()).removeUser(name));
  return user;
}
