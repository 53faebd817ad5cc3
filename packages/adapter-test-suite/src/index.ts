export * from './redis-server.js';
export * from './tcp-proxy.js';
export * from './redis-cluster.js';
