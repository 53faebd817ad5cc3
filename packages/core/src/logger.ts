/** An injectable logger; pino, winston and console all fit. */
export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

const noop = () => {};
/** Drops everything. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** Writes warn and error to the console; the default. */
export const consoleLogger: Logger = {
  debug: noop,
  info: noop,
  warn: (m, meta) => console.warn(m, meta ?? ''),
  error: (m, meta) => console.error(m, meta ?? ''),
};

/** A logger whose level methods take the fields first (`pino`, `bunyan`): `log.warn(fields, message)`. */
export interface FieldsFirstLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * Adapt a fields-first logger such as `pino` to the hub's `Logger`, so each
 * line's fields (the message id, the trace id, …) become the JSON record's
 * fields instead of being dropped: `createHub({ logger: pinoLogger(pino()) })`.
 */
export function pinoLogger(target: FieldsFirstLogger): Logger {
  return {
    debug: (m, meta) => target.debug(meta ?? {}, m),
    info: (m, meta) => target.info(meta ?? {}, m),
    warn: (m, meta) => target.warn(meta ?? {}, m),
    error: (m, meta) => target.error(meta ?? {}, m),
  };
}
