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
 * cost (the call into the OS generator, the pass over the pool):
 * 1,024 ids per refill measured ~1,300 instructions less per id than 128
 * did, on a path that makes two ids per request (the request and its reply).
 */
const POOL_IDS = 1024;

const SYMBOLS = new Uint8Array(64);
for (let i = 0; i < 64; i++) SYMBOLS[i] = ALPHABET.charCodeAt(i);

/** Random bytes, each turned into a symbol code as the pool is refilled. */
const pool = new Uint8Array(ID_LENGTH * POOL_IDS);
let offset = pool.length;

/**
 * A new envelope id: the same alphabet, length and entropy as `nanoid()`
 * (each random byte masked to 6 bits: 256 is a multiple of 64, so every
 * symbol is equally likely), about twice as fast. The pool's bytes are
 * turned into symbol codes once per refill, and each id is made in one
 * native step from its 21 codes.
 *
 * Why not a slice of one string made of the whole pool: a slice of 13
 * characters or more is a view into its parent string, not a string of its
 * own. Every character read of such an id (the validator checks each one,
 * a Map hashes and compares them) goes through the view, which measured
 * ~50 ns more per validated message, and each id that lives on (a dedup
 * key, a stored message) keeps the whole 21 KB parent alive.
 */
export function newId(): string {
  let o = offset;
  if (o + ID_LENGTH > pool.length) {
    globalThis.crypto.getRandomValues(pool);
    for (let i = 0; i < pool.length; i++) pool[i] = SYMBOLS[(pool[i] as number) & 63] as number;
    o = 0;
  }
  offset = o + ID_LENGTH;
  const p = pool as unknown as number[];
  // One call with the 21 codes as arguments: a flat one-byte string.
  return String.fromCharCode(
    p[o]!,
    p[o + 1]!,
    p[o + 2]!,
    p[o + 3]!,
    p[o + 4]!,
    p[o + 5]!,
    p[o + 6]!,
    p[o + 7]!,
    p[o + 8]!,
    p[o + 9]!,
    p[o + 10]!,
    p[o + 11]!,
    p[o + 12]!,
    p[o + 13]!,
    p[o + 14]!,
    p[o + 15]!,
    p[o + 16]!,
    p[o + 17]!,
    p[o + 18]!,
    p[o + 19]!,
    p[o + 20]!,
  );
}
