/**
 * `@hub/core/security`: the parts of security that need Node's crypto and
 * zlib (signing, encryption, compression). The main `@hub/core` entry stays
 * free of them, because the WebSocket client runs it in browsers.
 */
export * from './index.js';
export * from './protection.js';
