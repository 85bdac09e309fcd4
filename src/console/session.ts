/**
 * The console's sign-in session: the same userSession token SOAP's login
 * hands out (CallerAuthService keeps a hash of it in Redis), carried in an
 * HttpOnly, SameSite=Strict cookie. Forms that change something carry a CSRF
 * token derived from the session token, so a page that cannot read the
 * cookie cannot make one; the sign-in form, before any session exists, uses
 * a double-submit token in a short-lived cookie of its own.
 */
import crypto from 'node:crypto';
import type { Request, Response } from 'express';
import { DmwsiError } from '../domain/errors.js';
import type { Caller } from '../domain/roles.js';
import type { CallerAuthService } from '../services/caller-auth.js';

export const SESSION_COOKIE = 'dmwsi_console';
export const SIGN_IN_COOKIE = 'dmwsi_console_signin';

export interface CookieOptions {
  /** Set the Secure attribute (the gateway serves HTTPS). */
  secure: boolean;
  maxAgeSeconds: number;
}

/** The cookies of a request, by name (first one wins); malformed pairs are skipped. */
export function readCookies(req: Request): Map<string, string> {
  const out = new Map<string, string>();
  const header = req.headers.cookie;
  if (!header || header.length > 8192) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const name = part.slice(0, eq).trim();
    if (out.has(name)) continue;
    try {
      out.set(name, decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      // Not percent-decodable: not one of ours.
    }
  }
  return out;
}

export function setCookie(res: Response, name: string, value: string, o: CookieOptions): void {
  const attrs = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${o.maxAgeSeconds}`];
  if (o.secure) attrs.push('Secure');
  res.append('Set-Cookie', attrs.join('; '));
}

export function clearCookie(res: Response, name: string, secure: boolean): void {
  setCookie(res, name, '', { secure, maxAgeSeconds: 0 });
}

/** Tokens are base64url of 32 random bytes: anything else is not worth a Redis lookup. */
export function plausibleToken(value: string | undefined): value is string {
  return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value);
}

export function newToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** The CSRF token of a session: a one-way function of the session token. */
export function csrfTokenFor(sessionToken: string): string {
  return crypto.createHash('sha256').update(`dmwsi-console-csrf\0${sessionToken}`).digest('base64url');
}

export function sameToken(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** Where a sign-in or a job button may send the browser next: a console path, never another site. */
export function safeNext(v: unknown, fallback = '/console/devices'): string {
  if (typeof v !== 'string' || v.length > 512) return fallback;
  return /^\/(console|admin\/queues)(\/|\?|$)/.test(v) && !v.includes('\\') ? v : fallback;
}

/** Resolves the console session cookie to a caller; undefined when absent, unknown or expired. */
export async function consoleCaller(auth: CallerAuthService, req: Request): Promise<{ caller: Caller; token: string } | undefined> {
  const token = readCookies(req).get(SESSION_COOKIE);
  if (!plausibleToken(token)) return undefined;
  try {
    return { caller: await auth.resolveSession(token), token };
  } catch (err) {
    if (err instanceof DmwsiError && err.code === 'AuthenticationFailed') return undefined;
    throw err;
  }
}
