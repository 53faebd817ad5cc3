export * from './history.js';
export * from './pattern.js';
