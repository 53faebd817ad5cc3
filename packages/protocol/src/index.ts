export * from './enums.js';
export * from './errors.js';
export * from './factories.js';
export * from './types.js';
