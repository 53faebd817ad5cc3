/** Reading a request body under a limit, never holding more than the limit in memory. */
import type { IncomingMessage } from 'node:http';
import { ErrorCode } from '@hub/protocol';
import { type Problem, problem } from './problem.js';

export class BodyRefused {
  constructor(readonly problem: Problem) {}
}

/**
 * The body, or a `BodyRefused` with 413 when it is over `limit`, handed to
 * `done`: at once when Content-Length says so (nothing read), else as soon
 * as the bytes received pass the limit (the rest is never read; the caller
 * closes the connection). Chunks are kept as they come and joined once (one
 * copy, no string concatenation); a body that arrives in one chunk is not
 * copied at all. A callback rather than a promise: the request goes on in
 * the stream's own 'end' event, with no promise and no microtask hop per
 * request. `done` is called once and must not throw.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  done: (body: Buffer | BodyRefused) => void,
): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    done(new BodyRefused(tooLarge(limit, `Content-Length ${declared}`)));
    return;
  }
  new BodyReader(req, limit, done);
}

/**
 * One body being read. The listeners stay attached after the end: the
 * request is finished then and they go with it, so the common path adds
 * three listeners and removes none.
 */
class BodyReader {
  private first: Buffer | undefined;
  private chunks: Buffer[] | undefined;
  private size = 0;
  private done = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly limit: number,
    private readonly resolve: (value: Buffer | BodyRefused) => void,
  ) {
    req.on('data', (chunk: Buffer) => this.data(chunk));
    req.on('end', () => this.end());
    req.on('error', () => this.finish(aborted()));
  }

  private data(chunk: Buffer): void {
    if (this.done) return;
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.req.pause();
      this.finish(new BodyRefused(tooLarge(this.limit, `more than ${this.limit} bytes received`)));
      return;
    }
    if (this.first === undefined) this.first = chunk;
    else if (this.chunks === undefined) this.chunks = [this.first, chunk];
    else this.chunks.push(chunk);
  }

  private end(): void {
    if (this.chunks !== undefined) this.finish(Buffer.concat(this.chunks, this.size));
    else this.finish(this.first ?? EMPTY);
  }

  private finish(value: Buffer | BodyRefused): void {
    if (this.done) return;
    this.done = true;
    this.first = undefined;
    this.chunks = undefined;
    this.resolve(value);
  }
}

const EMPTY = Buffer.alloc(0);

function aborted(): BodyRefused {
  return new BodyRefused(problem(400, ErrorCode.DECODE_FAILED, 'request body aborted'));
}

function tooLarge(limit: number, what: string): Problem {
  return problem(
    413,
    ErrorCode.INVALID_MESSAGE,
    `request body is over the limit of ${limit} bytes (${what})`,
    'body',
  );
}
