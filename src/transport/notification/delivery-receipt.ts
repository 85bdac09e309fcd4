/**
 * SMSC delivery receipts: a deliver_sm with esm_class bits 2..5 = 0001
 * (0x04), whose text follows SMPP 3.4 Appendix B
 * (`id:... sub:... dlr:... submit date:... done date:... stat:DELIVRD err:...`),
 * often with the receipted_message_id and message_state TLVs as well. Pure.
 */

export interface DeliveryReceipt {
  /** The SMSC message id from the submit_sm_resp this receipt is about. */
  messageId: string;
  /** Appendix B state: DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE. */
  stat: string;
  /** Network error code from the text (`err:`), when given. */
  error?: string;
  /** The handset the receipt is for (the receipt's source_addr). */
  address: string;
  /** The whole receipt text, for logs. */
  text: string;
}

/** What parseDeliveryReceipt reads from a PDU (the smpp package's field names). */
export interface DeliverSmFields {
  esm_class?: number;
  source_addr?: string;
  short_message?: unknown;
  receipted_message_id?: string;
  message_state?: number;
}

const ESM_MESSAGE_TYPE_MASK = 0x3c;
const ESM_DELIVERY_RECEIPT = 0x04;

/** SMPP 3.4 §5.2.28 message_state values, as Appendix B spells them. */
const STATE_NAMES: ReadonlyMap<number, string> = new Map([
  [1, 'ENROUTE'],
  [2, 'DELIVRD'],
  [3, 'EXPIRED'],
  [4, 'DELETED'],
  [5, 'UNDELIV'],
  [6, 'ACCEPTD'],
  [7, 'UNKNOWN'],
  [8, 'REJECTD'],
]);

export function isDeliveryReceipt(pdu: DeliverSmFields): boolean {
  return ((pdu.esm_class ?? 0) & ESM_MESSAGE_TYPE_MASK) === ESM_DELIVERY_RECEIPT;
}

/**
 * The receipt, or undefined when the PDU is not one or names no message.
 * The TLVs win over the text: SMSCs that send both sometimes print the id in
 * decimal in the text while submit_sm_resp gave it in hex.
 */
export function parseDeliveryReceipt(pdu: DeliverSmFields): DeliveryReceipt | undefined {
  if (!isDeliveryReceipt(pdu)) return undefined;
  const text = shortMessageText(pdu.short_message);
  const field = (name: string): string | undefined =>
    new RegExp(`(?:^|\\s)${name}:(\\S+)`, 'i').exec(text)?.[1];
  const messageId = pdu.receipted_message_id || field('id');
  if (!messageId) return undefined;
  const stateName = pdu.message_state !== undefined ? STATE_NAMES.get(pdu.message_state) : undefined;
  const error = field('err');
  return {
    messageId,
    stat: stateName ?? field('stat')?.toUpperCase() ?? 'UNKNOWN',
    ...(error !== undefined ? { error } : {}),
    address: pdu.source_addr ?? '',
    text,
  };
}

/** Appendix B receipt text, as an SMSC writes it (used by the test SMSC). */
export function formatDeliveryReceiptText(r: { messageId: string; stat: string; error?: string; at?: Date }): string {
  const date = smppDate(r.at ?? new Date());
  return `id:${r.messageId} sub:001 dlr:001 submit date:${date} done date:${date} stat:${r.stat} err:${r.error ?? '000'} text:`;
}

function shortMessageText(sm: unknown): string {
  // The smpp package decodes short_message to { message } (string for text codings).
  const m = typeof sm === 'object' && sm !== null && 'message' in sm ? (sm as { message: unknown }).message : sm;
  if (typeof m === 'string') return m;
  if (Buffer.isBuffer(m)) return m.toString('latin1');
  return '';
}

/** YYMMDDhhmm in UTC. */
function smppDate(d: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}`;
}
