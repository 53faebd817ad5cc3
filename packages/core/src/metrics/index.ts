export * from './histogram.js';
export * from './registry.js';
