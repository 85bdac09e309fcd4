/**
 * Seals secrets at rest (device DM passwords, API passwords kept for
 * WS-Security PasswordDigest) with AES-256-GCM under the gateway key.
 * Format: "v1." + base64url(iv[12] | tag[16] | ciphertext).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Random bytes from a pool refilled 4 KiB at a time. A crypto.randomBytes call
 * costs ~2.5 µs whatever its size, and createDeviceInstance made five small
 * ones (two secrets, two nonces, one IV): ~2% of the gateway's CPU. The bytes
 * are the same CSPRNG output (Node pools randomUUID the same way); each one is
 * handed out once and wiped from the pool as it is.
 */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;

function fromPool<T>(n: number, take: (start: number, end: number) => T): T {
  if (poolOffset + n > POOL_BYTES) {
    crypto.randomFillSync(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += n;
  const out = take(start, poolOffset);
  pool.fill(0, start, poolOffset);
  return out;
}

/** n random bytes (a copy: the caller may keep it). */
function randomBytes(n: number): Buffer {
  if (n > POOL_BYTES / 8) return crypto.randomBytes(n);
  return fromPool(n, (start, end) => Buffer.from(pool.subarray(start, end)));
}

/**
 * Secrets opened lately, by sealed text. A DM message reads its device's row
 * and opened its passwords every time (AES-GCM set-up and tag check, ~3 µs,
 * ~2% of the gateway's CPU per message in the DM bench), and a device's
 * sessions come in runs of messages. A sealed text is unique to one sealing
 * (random IV), so a changed secret is a new key, never a stale hit. The
 * plain texts are no more exposed than the key that opens them, which this
 * process holds anyway.
 */
const OPENED_KEPT = 20_000;

export class SecretBox {
  private readonly opened = new Map<string, string>();

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the secret key must be 32 bytes');
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return 'v1.' + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  open(sealed: string): string {
    const kept = this.opened.get(sealed);
    if (kept !== undefined) {
      // Most recently used last: the oldest is the one let go.
      this.opened.delete(sealed);
      this.opened.set(sealed, kept);
      return kept;
    }
    const plain = this.decrypt(sealed);
    if (this.opened.size >= OPENED_KEPT) this.opened.delete(this.opened.keys().next().value!);
    this.opened.set(sealed, plain);
    return plain;
  }

  private decrypt(sealed: string): string {
    if (!sealed.startsWith('v1.')) throw new Error('unknown sealed secret format');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    if (raw.length < 28) throw new Error('sealed secret is truncated');
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}

/**
 * The key: DMWSI_SECRET_KEY (64 hex digits) when given, which production mode
 * requires; otherwise a key generated once into <dataDir>/secret.key, so a
 * development install keeps working across restarts.
 */
export function loadSecretKey(hexKey: string | undefined, dataDir: string): Buffer {
  if (hexKey) return Buffer.from(hexKey, 'hex');
  const file = path.join(dataDir, 'secret.key');
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{64}$/i.test(existing)) return Buffer.from(existing, 'hex');
    throw new Error(`${file} does not hold a 64-hex-digit key`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const key = crypto.randomBytes(32);
  fs.writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

/** A random secret of 128+ bits, printable (for generated DM passwords). */
export function randomSecret(bytes = 18): string {
  if (bytes > POOL_BYTES / 8) return crypto.randomBytes(bytes).toString('base64url');
  return fromPool(bytes, (start, end) => pool.toString('base64url', start, end));
}

/** A random nonce, base64 (for DM client and server nonces). */
export function randomNonce(bytes = 16): string {
  if (bytes > POOL_BYTES / 8) return crypto.randomBytes(bytes).toString('base64');
  return fromPool(bytes, (start, end) => pool.toString('base64', start, end));
}
