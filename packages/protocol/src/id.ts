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
 * cost (the call into the OS generator, the pass over the pool, the parse):
 * 1,024 ids per refill measured ~1,300 instructions less per id than 128
 * did, on a path that makes two ids per request (the request and its reply).
 */
const POOL_IDS = 1024;

const SYMBOLS = new Uint8Array(64);
for (let i = 0; i < 64; i++) SYMBOLS[i] = ALPHABET.charCodeAt(i);

/** One id in the JSON text of a refill: `"` 21 symbols `",`. */
const STRIDE = ID_LENGTH + 3;
/** The random bytes of one refill. */
const pool = new Uint8Array(ID_LENGTH * POOL_IDS);
/**
 * A refill's ids as the text of a JSON array of strings: `["…","…",…]`.
 * The brackets, quotes and commas are written once; a refill writes the
 * symbols between them. The alphabet has no character JSON would escape.
 */
const json = new Uint8Array(STRIDE * POOL_IDS + 1);
json[0] = 0x5b; // [
for (let i = 0; i < POOL_IDS; i++) {
  json[1 + i * STRIDE] = 0x22; // "
  json[1 + i * STRIDE + ID_LENGTH + 1] = 0x22; // "
  json[1 + i * STRIDE + ID_LENGTH + 2] = i === POOL_IDS - 1 ? 0x5d : 0x2c; // ] or ,
}
let decoder: { decode(bytes: Uint8Array): string } | undefined;
let ids: string[] = [];
let next = POOL_IDS;

/**
 * A new envelope id: the same alphabet, length and entropy as `nanoid()`
 * (each random byte masked to 6 bits: 256 is a multiple of 64, so every
 * symbol is equally likely), about twice as fast. A refill turns the pool's
 * bytes into 1,024 ids in one JSON.parse; each id is then one array read.
 *
 * Why not a slice of one string made of the whole pool: a slice of 13
 * characters or more is a view into its parent string, not a string of its
 * own. Every character read of such an id (the validator checks each one,
 * a Map hashes and compares them) goes through the view, which measured
 * ~800 instructions more per in-process request (two ids), and each id that
 * lives on (a dedup key, a stored message) keeps the whole parent alive.
 * JSON.parse makes each id a flat string of its own; String.fromCharCode
 * with 21 arguments did too, but cost as much as the view did.
 */
export function newId(): string {
  if (next === POOL_IDS) {
    // Inline, not a function of its own: a cold function's loop is left to
    // the interpreter, and this one runs 21,504 times per refill.
    globalThis.crypto.getRandomValues(pool);
    for (let i = 0, o = 2; i < POOL_IDS; i++, o += STRIDE) {
      const from = i * ID_LENGTH;
      for (let j = 0; j < ID_LENGTH; j++) {
        json[o + j] = SYMBOLS[(pool[from + j] as number) & 63] as number;
      }
    }
    // ASCII only: decoding it is one native call.
    decoder ??= new TextDecoder();
    ids = JSON.parse(decoder.decode(json)) as string[];
    next = 0;
  }
  return ids[next++] as string;
}
