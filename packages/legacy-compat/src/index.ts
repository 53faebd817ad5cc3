export {
  createLegacyBridge,
  type LegacyBridge,
  type LegacyBridgeOptions,
} from './bridge/bridge.js';
export type { LegacyRedis } from './bridge/connection.js';
export type { BridgeHub } from './bridge/context.js';
export type {
  InboundRoute,
  ListInbound,
  PubSubInbound,
  StreamInbound,
  WebSocketInbound,
} from './bridge/inbound.js';
export { BRIDGE_HEADER, FROM_LEGACY, TO_LEGACY } from './bridge/marker.js';
export type { HubSource, OutboundRoute } from './bridge/outbound.js';
export type { RouteStats } from './bridge/stats.js';
export type { WsEndpoint } from './bridge/websocket.js';
export {
  Comparison,
  type ComparisonReport,
  formatComparisonReport,
  type LatencySummary,
  type Path,
  type PayloadMismatch,
} from './compare/comparison.js';
export {
  createDualPublisher,
  type DualPublisher,
  type DualPublisherOptions,
  type LegacyPath,
} from './compare/dual-publish.js';
export {
  type MigrateConfigOptions,
  type MigratedConfig,
  migrateConfig,
  planConfigMigration,
} from './config/hub.js';
export {
  migrateRedisConfig,
  planRedisMigration,
  REDIS_ADAPTER_OPTIONS,
} from './config/redis.js';
export type { DroppedOption, MigrateOptions, Migration } from './config/report.js';
export {
  type MigrateWsOptions,
  migrateWsConfig,
  planWsMigration,
  WS_CLIENT_OPTIONS,
  WS_SERVER_OPTIONS,
  type WsMigration,
  type WsRole,
  type WsServerConfig,
} from './config/ws.js';
export {
  BUILTIN_SHAPES,
  type Conversion,
  convertLegacy,
  convertLegacyMessage,
  createLegacyConverter,
  detectLegacyShape,
  type LegacyConverter,
  type LegacyConverterOptions,
  toLegacy,
} from './convert/converter.js';
export { readExtensions, withExtensions } from './convert/extensions.js';
export {
  EXTENSIONS_HEADER,
  KEYS_HEADER,
  SHAPE_HEADER,
} from './convert/headers.js';
export type { ConvertContext, LegacyShape } from './convert/shape.js';
