import type { Logger } from '@hub/core';

export interface LogLine {
  readonly level: 'warn' | 'error';
  readonly message: string;
  readonly meta?: Record<string, unknown>;
}

/** A logger that keeps every warning and error, for cases that judge what was logged. */
export interface CapturingLogger extends Logger {
  readonly lines: LogLine[];
}

export function capturingLogger(): CapturingLogger {
  const lines: LogLine[] = [];
  const keep = (level: LogLine['level']) => (message: string, meta?: Record<string, unknown>) => {
    lines.push(meta === undefined ? { level, message } : { level, message, meta });
  };
  return { lines, debug() {}, info() {}, warn: keep('warn'), error: keep('error') };
}
