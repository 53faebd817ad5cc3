/**
 * nanoid's URL-safe alphabet (64 symbols), so ids look as they always did:
 * 21 symbols of 6 random bits each (126 bits), from the OS's cryptographic
 * generator (Web Crypto's `getRandomValues`, in Node and in browsers alike:
 * this package has no Node-only import, since the WebSocket client runs in a
 * browser).
 */
const ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';
const ID_LENGTH = 21;
/**
 * Ids made per refill of the random pool: 21,504 bytes, within Web Crypto's
 * 65,536-byte cap per `getRandomValues` call. A refill has a large fixed
 * cost (the call into the OS generator, the string made of the pool):
 * 1,024 ids per refill measured ~1,300 instructions less per id than 128
 * did, on a path that makes two ids per request (the request and its reply).
 */
const POOL_IDS = 1024;

const SYMBOLS = new Uint8Array(64);
for (let i = 0; i < 64; i++) SYMBOLS[i] = ALPHABET.charCodeAt(i);

const pool = new Uint8Array(ID_LENGTH * POOL_IDS);
/** The pool turned into symbols; each id is a slice of it. */
let text = '';
let decoder: { decode(bytes: Uint8Array): string } | undefined;
let offset = pool.length;

/**
 * A new envelope id: the same alphabet, length and entropy as `nanoid()`
 * (each random byte masked to 6 bits: 256 is a multiple of 64, so every
 * symbol is equally likely), about twice as fast. The pool's bytes are
 * turned into symbols once per refill and each id is one string slice,
 * instead of 21 one-character string appends.
 */
export function newId(): string {
  if (offset + ID_LENGTH > pool.length) {
    globalThis.crypto.getRandomValues(pool);
    for (let i = 0; i < pool.length; i++) pool[i] = SYMBOLS[(pool[i] as number) & 63] as number;
    // The pool holds ASCII only: decoding it is one native call, where
    // String.fromCharCode.apply over 21,504 arguments is a slow generic path.
    decoder ??= new TextDecoder();
    text = decoder.decode(pool);
    offset = 0;
  }
  const id = text.slice(offset, offset + ID_LENGTH);
  offset += ID_LENGTH;
  return id;
}
