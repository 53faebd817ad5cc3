/**
 * Standard message types. Applications may use their own type strings too:
 * `MessageType` (the type) accepts any string while offering these as completions.
 */
export const MessageType = {
  // tasks
  TASK_ASSIGNMENT: 'task_assignment',
  TASK_RESULT: 'task_result',
  TASK_STATUS: 'task_status',
  TASK_PROGRESS: 'task_progress',
  TASK_CANCEL: 'task_cancel',
  // agent lifecycle
  AGENT_REGISTER: 'agent_register',
  AGENT_DEREGISTER: 'agent_deregister',
  HEARTBEAT: 'heartbeat',
  DISCOVERY: 'discovery',
  // coordination
  COORDINATION: 'coordination',
  STATUS_UPDATE: 'status_update',
  // request / response
  REQUEST: 'request',
  RESPONSE: 'response',
  COMMAND: 'command',
  QUERY: 'query',
  QUERY_RESULT: 'query_result',
  // fan-out
  NOTIFICATION: 'notification',
  BROADCAST: 'broadcast',
  EVENT: 'event',
  // operations
  HEALTH_CHECK: 'health_check',
  HEALTH_STATUS: 'health_status',
  METRICS: 'metrics',
  CONFIG_UPDATE: 'config_update',
  DATA_SYNC: 'data_sync',
  ERROR: 'error',
  ACK: 'ack',
  NACK: 'nack',
  SHUTDOWN: 'shutdown',
} as const;

/** One of the standard message type strings. */
export type StandardMessageType = (typeof MessageType)[keyof typeof MessageType];
/** A standard message type, or an application's own type string. */
export type MessageType = StandardMessageType | (string & {});

/** Five priority levels; a higher number is served first when work queues up. */
export const Priority = {
  LOW: 1,
  NORMAL: 2,
  HIGH: 3,
  URGENT: 4,
  CRITICAL: 5,
} as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

/** Every priority level, highest first. */
export const PRIORITY_LEVELS: readonly Priority[] = [5, 4, 3, 2, 1];

/**
 * What the hub promises about one message. See docs/guarantees.md.
 * - best-effort: may be lost, never duplicated by the hub.
 * - at-least-once: redelivered until acknowledged or dead-lettered.
 * - exactly-once: at-least-once plus receiver-side dedup by id within a window.
 * - ordered: at-least-once plus FIFO per partition key.
 */
export const DeliveryGuarantee = {
  BEST_EFFORT: 'best-effort',
  AT_LEAST_ONCE: 'at-least-once',
  EXACTLY_ONCE: 'exactly-once',
  ORDERED: 'ordered',
} as const;
export type DeliveryGuarantee = (typeof DeliveryGuarantee)[keyof typeof DeliveryGuarantee];

export const DELIVERY_GUARANTEES: readonly DeliveryGuarantee[] = Object.values(DeliveryGuarantee);
