/** Reading a request body under a limit, never holding more than the limit in memory. */
import type { IncomingMessage } from 'node:http';
import { ErrorCode } from '@hub/protocol';
import { type Problem, problem } from './problem.js';

export class BodyRefused {
  constructor(readonly problem: Problem) {}
}

/**
 * The body, or a `BodyRefused` with 413 when it is over `limit`: at once when
 * Content-Length says so (nothing read), else as soon as the bytes received
 * pass the limit (the rest is never read; the caller closes the connection).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | BodyRefused> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.resolve(new BodyRefused(tooLarge(limit, `Content-Length ${declared}`)));
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (value: Buffer | BodyRefused) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish(new BodyRefused(tooLarge(limit, `more than ${limit} bytes received`)));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(Buffer.concat(chunks, size));
    const onError = () =>
      finish(new BodyRefused(problem(400, ErrorCode.DECODE_FAILED, 'request body aborted')));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(limit: number, what: string): Problem {
  return problem(
    413,
    ErrorCode.INVALID_MESSAGE,
    `request body is over the limit of ${limit} bytes (${what})`,
    'body',
  );
}
