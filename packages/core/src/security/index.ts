export * from './identity.js';
export * from './rules.js';
export * from './security.js';
