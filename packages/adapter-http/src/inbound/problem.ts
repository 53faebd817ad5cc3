/**
 * RFC 9457 problem details: every error the endpoint answers is one
 * `application/problem+json` document carrying Hub's stable error code and,
 * for refused input, the field at fault.
 */
import type { ServerResponse } from 'node:http';
import { ErrorCode, isHubError, isInvalidMessageError } from '@hub/protocol';

export const PROBLEM_JSON = 'application/problem+json';

export interface Problem {
  status: number;
  title: string;
  detail: string;
  code: string;
  field?: string;
  /** Seconds, sent as Retry-After too. */
  retryAfter?: number;
  /** Extra members (batch results). */
  extra?: Record<string, unknown>;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function problem(status: number, code: string, detail: string, field?: string): Problem {
  return {
    status,
    title: TITLES[status] ?? 'Error',
    detail,
    code,
    ...(field === undefined ? {} : { field }),
  };
}

/** Hub error code → HTTP status; anything unknown is the hub failing behind the gateway. */
const STATUS_OF: Record<string, number> = {
  [ErrorCode.INVALID_MESSAGE]: 400,
  [ErrorCode.DECODE_FAILED]: 400,
  [ErrorCode.INVALID_CONFIG]: 400,
  HUB_INVALID_PATTERN: 400,
  [ErrorCode.AUTH_FAILED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.INTEGRITY_FAILED]: 400,
  [ErrorCode.REPLAYED]: 409,
  [ErrorCode.NO_ROUTE]: 404,
  [ErrorCode.GUARANTEE_UNSUPPORTED]: 422,
  [ErrorCode.EXPIRED]: 422,
  [ErrorCode.OVERLOADED]: 503,
  [ErrorCode.CIRCUIT_OPEN]: 503,
  [ErrorCode.CLOSED]: 503,
  [ErrorCode.NOT_STARTED]: 503,
  [ErrorCode.TIMEOUT]: 504,
};

export function problemFromError(err: unknown): Problem {
  if (isInvalidMessageError(err)) return problem(400, err.code, err.message, err.field);
  if (isHubError(err)) {
    const status = STATUS_OF[err.code] ?? 502;
    const p = problem(status, err.code, err.message);
    const field = (err as { field?: unknown }).field;
    if (typeof field === 'string') p.field = field;
    if (status === 503) p.retryAfter = 1;
    return p;
  }
  return problem(502, ErrorCode.ADAPTER_FAILED, err instanceof Error ? err.message : String(err));
}

export function sendProblem(res: ServerResponse, p: Problem, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    type: `https://hub.dev/errors/${p.code}`,
    title: p.title,
    status: p.status,
    detail: p.detail,
    code: p.code,
    ...(p.field === undefined ? {} : { field: p.field }),
    ...p.extra,
  });
  const headers: Record<string, string | number> = {
    'content-type': PROBLEM_JSON,
    'content-length': Buffer.byteLength(body),
  };
  if (p.retryAfter !== undefined) headers['retry-after'] = Math.max(1, Math.ceil(p.retryAfter));
  // A body we refuse to read must not be parsed as the next request.
  if (close) headers.connection = 'close';
  res.writeHead(p.status, headers);
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  extra?: Record<string, string>,
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...extra,
  });
  res.end(body);
}

/**
 * The answer to an accepted message, `202 {"accepted":true,"id":…}`: the hot
 * path of the endpoint, so the body is written as a string around the
 * JSON-quoted id rather than through a generic object serialisation.
 * `madeHere`: the id is one the hub made (`newId`, letters, digits, `_` and
 * `-`), which needs no escaping and is one byte per character, so it is
 * neither serialised nor measured (a client's id may hold `"` or `\`).
 */
export function sendAccepted(res: ServerResponse, id: string, madeHere = false): void {
  const body = madeHere
    ? `{"accepted":true,"id":"${id}"}`
    : `{"accepted":true,"id":${JSON.stringify(id)}}`;
  res.writeHead(202, {
    'content-type': 'application/json',
    'content-length': madeHere ? body.length : Buffer.byteLength(body),
  });
  res.end(body);
}
