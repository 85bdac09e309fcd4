import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './types.js';

/**
 * Hard ceiling on nesting: the tree mapper recurses once per container
 * level, so a caller-supplied maxDepth above this is clamped to keep the
 * call stack bounded whatever the input.
 */
export const MAX_SUPPORTED_DEPTH = 512;

/** Fills unset limits from DEFAULT_DECODE_LIMITS; clamps maxDepth. */
export function resolveLimits(limits?: Partial<DecodeLimits>): DecodeLimits {
  if (limits === undefined) return DEFAULT_DECODE_LIMITS;
  const maxDepth = limits.maxDepth ?? DEFAULT_DECODE_LIMITS.maxDepth;
  return {
    maxBytes: limits.maxBytes ?? DEFAULT_DECODE_LIMITS.maxBytes,
    maxDepth: Math.min(maxDepth, MAX_SUPPORTED_DEPTH),
    maxElements: limits.maxElements ?? DEFAULT_DECODE_LIMITS.maxElements,
  };
}
