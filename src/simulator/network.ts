/**
 * How a real network treats a fleet's messages: a round-trip latency drawn
 * per message from a range, and a share of messages lost at the transport
 * (the request never arrives, or the connection drops before the answer is
 * read). Every draw comes from the fleet's `random`, so a seeded run repeats.
 */
import type { DmTransport } from './http-transport.js';

/** Milliseconds added before each message, drawn uniformly in [minMs, maxMs]. */
export interface LatencyRange {
  minMs: number;
  maxMs: number;
}

/** `300-3000` (a range) or `300` (always that); throws RangeError on anything else. */
export function parseLatency(text: string): LatencyRange {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (!m) throw new RangeError(`expected milliseconds or a range such as 300-3000, got "${text}"`);
  const minMs = Number(m[1]);
  const maxMs = m[2] === undefined ? minMs : Number(m[2]);
  if (maxMs < minMs) throw new RangeError(`latency range ${text} ends below its start`);
  return { minMs, maxMs };
}

export function latencyRange(latency: number | LatencyRange | undefined): LatencyRange {
  if (latency === undefined) return { minMs: 0, maxMs: 0 };
  return typeof latency === 'number' ? { minMs: latency, maxMs: latency } : latency;
}

/** One draw from the range (the minimum when it is a single value). */
export function drawLatency(range: LatencyRange, random: () => number): number {
  return range.minMs + (range.maxMs - range.minMs) * random();
}

/** Thrown by a lossy transport for a message the simulated network dropped. */
export class SimulatedNetworkError extends Error {
  constructor(readonly stage: 'request-lost' | 'answer-lost') {
    super(stage === 'request-lost' ? 'simulated network: the request never arrived' : 'simulated network: the connection dropped before the answer was read');
    this.name = 'SimulatedNetworkError';
  }
}

/**
 * Wraps a transport so that a `share` of posts fail: half of them before the
 * request is sent (the server sees nothing), half after the server answered
 * (it acted on the message; the device never learns how).
 */
export function lossyTransport(
  inner: DmTransport,
  share: number,
  random: () => number,
  onLost?: (stage: SimulatedNetworkError['stage']) => void,
): DmTransport {
  if (share <= 0) return inner;
  return {
    async post(url, body, headers) {
      const draw = random();
      if (draw < share / 2) {
        onLost?.('request-lost');
        throw new SimulatedNetworkError('request-lost');
      }
      const res = await inner.post(url, body, headers);
      if (draw < share) {
        onLost?.('answer-lost');
        throw new SimulatedNetworkError('answer-lost');
      }
      return res;
    },
  };
}
