export * from '@hub/protocol';
export * from './adapter/base.js';
/** The established name of `BaseAdapter`. */
export { BaseAdapter as BaseProtocolAdapter } from './adapter/base.js';
export * from './adapter/contract.js';
export * from './adapter/errors.js';
export { handOverPayload } from './adapter/payload-ownership.js';
export * from './adapters/memory.js';
export * from './config/unknown-options.js';
export type * from './delivery/dedup.js';
export * from './delivery/memory-dedup.js';
export * from './delivery/priority-queue.js';
export * from './delivery/receive-pipeline.js';
export * from './event-bus/index.js';
export * from './hub/config.js';
export * from './hub/hub.js';
export type { MetricTotals } from './hub/metrics.js';
export * from './hub/middleware.js';
export type {
  AdapterMetrics,
  DetailedMetrics,
  HealthSource,
  HealthStatus,
} from './hub/report.js';
export * from './hub/types.js';
export * from './logger.js';
export * from './metrics/index.js';
export type {
  AnomalyOptions,
  AnomalyReport,
  ErrorRateAnomaly,
  LatencyAnomaly,
} from './observability/anomaly.js';
export type { MessageLogMeta } from './observability/log-meta.js';
export type { PromCollectorOptions, PromRegistry } from './observability/prometheus.js';
export * from './registry/registry.js';
export * from './resilience/index.js';
export * from './router/router.js';
export * from './security/index.js';
