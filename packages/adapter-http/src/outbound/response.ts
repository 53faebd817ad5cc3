/** Reading response bodies without trusting their size. */
import { AdapterError } from '@hub/core';

interface Body extends AsyncIterable<Buffer> {
  destroy(err?: Error): unknown;
}

const EXCERPT_BYTES = 512;

/**
 * The whole body, refused (and the stream destroyed, so the socket is not
 * reused) as soon as it passes `cap` bytes: a declared Content-Length over
 * the cap fails before a byte is read.
 */
export async function readCapped(
  adapter: string,
  body: Body,
  cap: number,
  declaredLength: string | string[] | undefined,
): Promise<Buffer> {
  try {
    checkDeclaredLength(adapter, declaredLength, cap);
  } catch (err) {
    body.destroy();
    throw err;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > cap) {
      body.destroy();
      throw tooLarge(adapter, cap, `passed ${size} bytes`);
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** A Content-Length over the cap fails before a byte is read. */
export function checkDeclaredLength(
  adapter: string,
  declaredLength: string | string[] | undefined,
  cap: number,
): void {
  const declared = Number(Array.isArray(declaredLength) ? declaredLength[0] : declaredLength);
  if (Number.isFinite(declared) && declared > cap) {
    throw tooLarge(adapter, cap, `declares ${declared} bytes`);
  }
}

function tooLarge(adapter: string, cap: number, what: string): AdapterError {
  // The receiver has answered (the call went through): retrying would only
  // repeat the call, so this is final.
  return new AdapterError(adapter, `response body ${what}, over maxResponseBytes (${cap})`, {
    retryable: false,
  });
}

/** The first bytes of an error body as text; the rest is dropped with the stream. */
export async function readExcerpt(body: Body): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= EXCERPT_BYTES) break;
    }
  } catch {
    // an excerpt is best-effort: the status already says what happened
  }
  body.destroy();
  return Buffer.concat(chunks, size)
    .subarray(0, EXCERPT_BYTES)
    .toString('utf8')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A response body as a reply payload: JSON when it says so, text otherwise. */
export function parseReply(bytes: Buffer, contentType: string | string[] | undefined): unknown {
  const type = (Array.isArray(contentType) ? contentType[0] : contentType) ?? '';
  const text = bytes.toString('utf8');
  if (/[/+]json\b/.test(type)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
