/**
 * A device's two user digests, B64(MD5(name ":" password)) of its client and
 * server credentials, kept between sessions. A session needs them three or
 * four times (its own Cred, the server's Cred on every message, a Package#0's
 * digest) and they change only with the account (a bootstrap, a server's
 * Replace of a secret): the names and passwords they were made from are kept
 * with them (references, not copies) and compared on every use, so a changed
 * account is never answered with an old digest.
 */
import { userDigest } from '../dm/auth/credentials.js';

export interface CredentialPairs {
  readonly clientUsername: string;
  readonly clientPassword: string;
  readonly serverId: string;
  readonly serverPassword: string;
}

export interface UserDigests extends CredentialPairs {
  /** B64(MD5(clientUsername:clientPassword)). */
  readonly client: string;
  /** B64(MD5(serverId:serverPassword)). */
  readonly server: string;
}

/** `kept` when it was made from these credentials, else new digests. */
export function userDigests(acct: CredentialPairs, kept: UserDigests | undefined): UserDigests {
  if (
    kept !== undefined &&
    kept.clientUsername === acct.clientUsername &&
    kept.clientPassword === acct.clientPassword &&
    kept.serverId === acct.serverId &&
    kept.serverPassword === acct.serverPassword
  ) {
    return kept;
  }
  const { clientUsername, clientPassword, serverId, serverPassword } = acct;
  return {
    clientUsername,
    clientPassword,
    serverId,
    serverPassword,
    client: userDigest(clientUsername, clientPassword),
    server: userDigest(serverId, serverPassword),
  };
}
