/**
 * Types for the parts of `smpp` 0.5.1 (farhadi/node-smpp) this project uses;
 * the package ships none. Written against lib/smpp.js, lib/pdu.js and
 * lib/defs.js of that version: keep it in step when upgrading.
 */
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';
  import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';

  /** `short_message` as decoded on receipt: the UDH comes as its elements, UDHL stripped. */
  export interface DecodedShortMessage {
    udh?: Buffer[];
    message: Buffer | string;
  }

  /**
   * A PDU: header fields, the command's parameters and any TLVs, all as own
   * properties named as in SMPP 3.4 (`destination_addr`, `receipted_message_id`...).
   */
  export class PDU {
    constructor(command: string, options?: PduFields);
    command: string;
    command_length: number;
    command_id: number;
    command_status: number;
    sequence_number: number;
    system_id?: string;
    password?: string;
    message_id?: string;
    source_addr?: string;
    destination_addr?: string;
    esm_class?: number;
    data_coding?: number | null;
    registered_delivery?: number;
    /** A Buffer is sent as is; received messages are decoded. */
    short_message?: Buffer | string | DecodedShortMessage;
    receipted_message_id?: string;
    message_state?: number;
    [field: string]: unknown;
    isResponse(): boolean;
    response(options?: PduFields): PDU;
    toBuffer(): Buffer;
    static maxLength: number;
  }

  export type PduFields = Record<string, unknown>;
  export type ResponseCallback = (pdu: PDU) => void;
  export type SendCallback = (pdu: PDU) => void;

  type Command = (options?: PduFields, onResponse?: ResponseCallback, onSent?: SendCallback) => boolean;

  export class Session extends EventEmitter {
    socket: Socket;
    /** Set on sessions accepted by a Server. */
    server?: Server;
    /** false when the socket is not writable (nothing was sent). */
    send(pdu: PDU, onResponse?: ResponseCallback, onSent?: SendCallback): boolean;
    /** Ends the socket gracefully. */
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    pause(): void;
    resume(): void;
    bind_transceiver: Command;
    bind_transmitter: Command;
    bind_receiver: Command;
    submit_sm: Command;
    deliver_sm: Command;
    enquire_link: Command;
    unbind: Command;
    generic_nack: Command;
  }

  export class Server extends NetServer {
    sessions: Session[];
  }

  export interface ServerOptions {
    key?: string | Buffer;
    cert?: string | Buffer;
  }

  /** Options go to net.connect / tls.connect as well. */
  export interface ConnectOptions extends TlsConnectionOptions {
    host?: string;
    port?: number;
    tls?: boolean;
    url?: string;
    auto_enquire_link_period?: number;
  }

  export function createServer(options?: ServerOptions, listener?: (session: Session) => void): Server;
  export function connect(options: ConnectOptions, listener?: () => void): Session;

  export const errors: Readonly<Record<string, number>>;
  export const consts: {
    readonly ESM_CLASS: Readonly<Record<string, number>>;
    readonly MESSAGE_STATE: Readonly<Record<string, number>>;
    readonly REGISTERED_DELIVERY: Readonly<Record<string, number>>;
    readonly TON: Readonly<Record<string, number>>;
    readonly NPI: Readonly<Record<string, number>>;
    readonly ENCODING: Readonly<Record<string, number>>;
  };

  const smpp: {
    PDU: typeof PDU;
    Session: typeof Session;
    Server: typeof Server;
    createServer: typeof createServer;
    connect: typeof connect;
    errors: typeof errors;
    consts: typeof consts;
  };
  export default smpp;
}
