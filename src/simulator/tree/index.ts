/** Public surface of the simulator's management tree. */
export { parseAtTime } from './at-time.js';
export * from './large-object.js';
export * from './management-tree.js';
export { nodeText } from './node-text.js';
export * from './sse.js';
export * from './standard-tree.js';
export { joinUri, type ParsedUri, parseUri, UNLIMITED_URI } from './uri.js';
