export * from '@hub/protocol';
export * from './adapter/base.js';
export * from './adapter/contract.js';
export * from './adapter/errors.js';
export * from './logger.js';
