/**
 * nanoid's URL-safe alphabet (64 symbols), so ids look as they always did:
 * 21 symbols of 6 random bits each (126 bits), from the OS's cryptographic
 * generator (Web Crypto's `getRandomValues`, in Node and in browsers alike:
 * this package has no Node-only import, since the WebSocket client runs in a
 * browser).
 */
const ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';
const ID_LENGTH = 21;
/** Ids made per refill of the random pool. */
const POOL_IDS = 128;

const SYMBOLS = new Uint8Array(64);
for (let i = 0; i < 64; i++) SYMBOLS[i] = ALPHABET.charCodeAt(i);

const pool = new Uint8Array(ID_LENGTH * POOL_IDS);
/** The pool turned into symbols; each id is a slice of it. */
let text = '';
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
    text = String.fromCharCode.apply(null, pool as unknown as number[]);
    offset = 0;
  }
  const id = text.slice(offset, offset + ID_LENGTH);
  offset += ID_LENGTH;
  return id;
}
