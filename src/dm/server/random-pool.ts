/**
 * Random bytes for session tokens and nonces, cut from a pool the CSPRNG
 * refills 4 KiB at a time. `crypto.randomBytes(16)` cost ~4.6 µs per call on
 * the bench box (a getrandom syscall each) against ~0.2 µs from the pool, and
 * every DM session takes two (its RespURI token and the next nonce). Node's
 * own `crypto.randomUUID` caches its entropy the same way. Every byte is
 * handed out once.
 */
import crypto from 'node:crypto';

const POOL_BYTES = 4096;

export class RandomPool {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private offset = POOL_BYTES;

  /** `n` (≤ 4096) fresh random bytes, as a Buffer of their own. */
  bytes(n: number): Buffer {
    if (n > POOL_BYTES) return crypto.randomBytes(n);
    if (this.offset + n > POOL_BYTES) {
      crypto.randomFillSync(this.pool);
      this.offset = 0;
    }
    const out = Buffer.from(this.pool.subarray(this.offset, this.offset + n));
    this.offset += n;
    return out;
  }
}
