/**
 * Generic Alert Type matching shared by FUMO and SCOMO: notes §5 say to strip
 * an optional `Reversed-Domain-Name:` / `Content-Type:` prefix and trim.
 */
const TYPE_PREFIX = /^\s*(?:reversed-domain-name|content-type)\s*:\s*/i;

export function normaliseAlertType(type: string | undefined): string {
  return (type ?? '').replace(TYPE_PREFIX, '').trim();
}

/** True when `uri` is `root` or below it (notes §13.3: Source is often the executed node). */
export function isUnder(uri: string, root: string): boolean {
  const u = stripSlash(normaliseUri(uri));
  const r = stripSlash(normaliseUri(root));
  return u === r || u.startsWith(`${r}/`);
}

/** `FUMO/x` and `./FUMO/x` name the same node. */
export function normaliseUri(uri: string): string {
  const t = uri.trim();
  return t.startsWith('./') || t === '.' ? t : `./${t}`;
}

function stripSlash(uri: string): string {
  return uri.endsWith('/') ? uri.slice(0, -1) : uri;
}

/** Integer result code from Data of Format int, chr or none (notes §13.4); undefined when not a number. */
export function parseResultCode(text: string): number | undefined {
  const t = text.trim();
  return /^\d{1,6}$/.test(t) ? Number(t) : undefined;
}
