export * from './backoff.js';
export * from './circuit-breaker.js';
export * from './retry.js';
export * from './timeout.js';
