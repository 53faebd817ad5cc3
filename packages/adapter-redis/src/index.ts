export { RedisAdapter, redis, redisAdapter } from './adapter.js';
export { type RedisDedupStoreOptions, redisDedupStore } from './dedup-store.js';
export {
  type KeyLayout,
  keyLayout,
  partitionOf,
  topicAddress,
  topicPatternToGlob,
} from './keys.js';
export type {
  LegacyRedisConnectionConfig,
  RedisAdapterOptions,
  RedisSentinelOptions,
} from './options.js';
export { REDIS_ADAPTER_OPTIONS } from './options.js';
export { ENTRY_VERSION } from './stream-entry.js';
