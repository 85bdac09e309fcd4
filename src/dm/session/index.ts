/**
 * The OMA DM 1.2 server session engine: `handleClientMessage(state, message,
 * context) → { state, reply, effects }`. See engine.ts for the flow.
 */
export { type ReplySigner, signReply } from './auth-step.js';
export * from './context.js';
export type * from './effects.js';
export { type SessionStepResult, handleClientMessage } from './engine.js';
export { normalizeAlertType } from './generic-alert.js';
export { DEVDETAIL_LEAVES, DEVDETAIL_REQUEST_ID } from './plan.js';
export { STATUS_DTD_VERSION_UNSUPPORTED, STATUS_PROTOCOL_VERSION_UNSUPPORTED } from './reply.js';
export * from './server-commands.js';
export {
  createSessionState,
  deserializeSessionState,
  fromStoredMessage,
  SESSION_STATE_VERSION,
  type SessionState,
  serializeSessionState,
  type StoredMessage,
  toStoredMessage,
} from './state.js';
