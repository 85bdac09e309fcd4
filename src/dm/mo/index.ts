/** FUMO and SCOMO protocol facts shared by the gateway and the simulator (pure, no I/O). */
export * from './alert-type.js';
export * from './fumo.js';
export * from './result-codes.js';
export * from './scomo.js';
