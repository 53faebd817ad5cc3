export * from './identity.js';
export * from './loopback.js';
export * from './replay.js';
export * from './rules.js';
export * from './security.js';
export * from './tls.js';
