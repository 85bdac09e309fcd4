/**
 * One operation model, two protocols: the gateway queues DM 1.2-shaped
 * requests for every device (src/dm/session/server-commands.ts), and this
 * module says what each spec is as a DM 2.0 command. Results go back to the
 * requester keyed by the same spec (verb, URI), so the broker, its states and
 * its history are the same for both generations.
 *
 * | spec | DM 2.0 |
 * |---|---|
 * | Get | GET ClientURI |
 * | Add / Replace | HGET ServerURI ClientURI: the value, served by the gateway at a per-request signed URL |
 * | Delete | DELETE ClientURI |
 * | Exec | EXEC ClientURI [ServerURI] [Data]: a ServerURI (naming the correlator) when the requester awaits the final report, which makes it asynchronous |
 * | Copy, UI alerts, Atomic | none: the request is refused (`request-rejected`) |
 */
import type { ServerCommandRequest, ServerCommandSpec } from '../dm/session/server-commands.js';
import { toClientUri } from './client-uri.js';
import type { Dm2Command } from './types.js';

export interface CommandUrls {
  /** Where the client HGETs spec `index` of the request. */
  dataUrl(requestId: string, index: number): string;
  /** The ServerURI of an EXEC whose report comes later (asynchronous). */
  reportUrl(correlator: string): string;
}

/** The request's commands in DM 2.0 form, or why it has none. */
export function toDm2Commands(request: ServerCommandRequest, urls: CommandUrls): { commands: Dm2Command[] } | { refused: string } {
  if (request.container === 'Atomic') return { refused: 'DM 2.0 has no Atomic: the request cannot be sent to a DM 2.0 device' };
  const commands: Dm2Command[] = [];
  for (const [index, spec] of request.commands.entries()) {
    const command = toDm2Command(request.requestId, index, spec, urls);
    if (typeof command === 'string') return { refused: command };
    commands.push(command);
  }
  return { commands };
}

function toDm2Command(requestId: string, index: number, spec: ServerCommandSpec, urls: CommandUrls): Dm2Command | string {
  switch (spec.verb) {
    case 'Get':
      return ['GET', toClientUri(spec.uri)];
    case 'Add':
    case 'Replace':
      return ['HGET', urls.dataUrl(requestId, index), toClientUri(spec.uri)];
    case 'Delete':
      return ['DELETE', toClientUri(spec.uri)];
    case 'Exec': {
      const server = spec.awaitReport === true && spec.correlator !== undefined ? urls.reportUrl(spec.correlator) : '';
      if (spec.data !== undefined) return ['EXEC', toClientUri(spec.uri), server, spec.data];
      return server === '' ? ['EXEC', toClientUri(spec.uri)] : ['EXEC', toClientUri(spec.uri), server];
    }
    case 'Copy':
      return `DM 2.0 has no Copy (commands[${index}] ${spec.uri})`;
    case 'Alert':
      return `DM 2.0 has no user-interaction alert (commands[${index}]): use bOptin false for a DM 2.0 device`;
    default:
      return `commands[${index}]: unknown verb`;
  }
}
