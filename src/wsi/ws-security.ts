/**
 * Reads a WS-Security UsernameToken from the parsed SOAP header. Verification
 * is the caller-auth service's job; this only extracts what was sent.
 */
/** Linear: a literal tried at each '#', then the end. */
const PASSWORD_DIGEST = /#PasswordDigest$/;

export type UsernameToken =
  | { kind: 'text'; username: string; password: string }
  | { kind: 'digest'; username: string; digest: string; nonce: string; created: string };

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && '$value' in v) return text((v as { $value: unknown }).$value);
  return undefined;
}

function attr(v: unknown, name: string): string | undefined {
  const attrs = (v as { attributes?: Record<string, unknown> } | undefined)?.attributes;
  const a = attrs?.[name];
  return typeof a === 'string' ? a : undefined;
}

/** undefined: no Security header. Throws nothing; a malformed token is returned as undefined fields. */
export function usernameToken(header: unknown): UsernameToken | 'malformed' | undefined {
  const security = (header as { Security?: unknown } | undefined)?.Security;
  if (security === undefined) return undefined;
  // An empty <Security/> parses as null: a header that authenticates nobody.
  if (security === null || typeof security !== 'object') return 'malformed';
  const token = (security as { UsernameToken?: unknown }).UsernameToken;
  if (!token || typeof token !== 'object' || Array.isArray(token)) return 'malformed';
  const t = token as Record<string, unknown>;
  const username = text(t.Username);
  const password = text(t.Password);
  if (!username || password === undefined) return 'malformed';
  if (PASSWORD_DIGEST.test(attr(t.Password, 'Type') ?? '')) {
    const nonce = text(t.Nonce);
    const created = text(t.Created);
    if (!nonce || !created) return 'malformed';
    return { kind: 'digest', username, digest: password, nonce, created };
  }
  return { kind: 'text', username, password };
}
