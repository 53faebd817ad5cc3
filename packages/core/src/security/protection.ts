import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  type KeyObject,
  randomFillSync,
  timingSafeEqual,
} from 'node:crypto';
import {
  brotliCompressSync,
  brotliDecompressSync,
  gunzipSync,
  gzipSync,
  constants as zlibConstants,
} from 'node:zlib';
import { type Envelope, ErrorCode, HubError } from '@hub/protocol';
import { isThenable } from '../common/thenable.js';
import { rejectUnknownOptions } from '../config/unknown-options.js';
import { IDENTITY_HEADER } from './identity.js';
import type { EnvelopeProtection } from './security.js';

/**
 * Returns the secret of a key id, or undefined for an id it does not know.
 * A string is read as base64. Called once per key id (the result is kept),
 * so it may fetch from a vault.
 */
export type KeyProvider = (
  keyId: string,
) => Uint8Array | string | undefined | Promise<Uint8Array | string | undefined>;

export interface KeyOptions {
  /** Key id new envelopes are written with; a function to rotate at run time. */
  keyId: string | (() => string);
  /** Secrets by key id: the current one and any older ones still to be read. */
  keys: KeyProvider;
  /**
   * An arrived envelope without this protection is refused (fail closed).
   * `false` accepts unprotected ones too, while a fleet is being switched over.
   * @default true (for encryption: false while `enabled` is false)
   */
  required?: boolean;
}

export interface EncryptionOptions extends KeyOptions {
  /**
   * `false` keeps the keys to read encrypted envelopes but writes plaintext:
   * the first step of switching a fleet over (every hub can read before any
   * writes). The hub warns at start-up while it is off.
   * @default true
   */
  enabled?: boolean;
}

export interface CompressionOptions {
  /** @default 'gzip' */
  algorithm?: 'gzip' | 'br';
  /** Payloads of at least this many bytes (as JSON) are compressed. @default 1024 */
  thresholdBytes?: number;
  /** An arrived payload that inflates past this is refused (compression bombs). @default 8 MiB */
  maxDecompressedBytes?: number;
}

export interface ProtectionOptions {
  /** HMAC-SHA256 over the envelope's canonical fields, the identity and the body. */
  signing?: KeyOptions;
  /** AES-256-GCM of the payload (keys of 32 bytes). */
  encryption?: EncryptionOptions;
  compression?: CompressionOptions;
}

/** Headers of the protection; the security layer drops any a sender wrote itself. */
export const SIGNATURE_HEADER = 'hub-sig';
export const KEY_ID_HEADER = 'hub-enc';
export const IV_HEADER = 'hub-iv';
export const TAG_HEADER = 'hub-tag';
export const COMPRESSION_HEADER = 'hub-zip';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_CACHE_MAX = 64;
const KEY_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

const fail = (why: string, cause?: unknown): HubError =>
  new HubError(
    ErrorCode.INTEGRITY_FAILED,
    `[hub:security] ${why}`,
    cause === undefined ? undefined : { cause },
  );
const badConfig = (field: string, why: string): HubError =>
  new HubError(ErrorCode.INVALID_CONFIG, `[hub:config] security.protection ${field} ${why}`);

const bodyOf = (env: Envelope): unknown => (env.kind === 'message' ? env.payload : env.data);
const withBody = (env: Envelope, body: unknown, headers: Record<string, string>): Envelope =>
  env.kind === 'message' ? { ...env, payload: body, headers } : { ...env, data: body, headers };
const addressOf = (env: Envelope): string => (env.kind === 'message' ? env.destination : env.topic);

/** Keys by id, resolved once through the provider. */
class Keys {
  /** KeyObjects: Node imports the key once, not on every cipher and HMAC (~3 µs each). */
  private readonly cache = new Map<string, KeyObject>();
  constructor(
    private readonly field: string,
    private readonly options: KeyOptions,
    private readonly exactBytes: number | undefined,
    known: readonly string[] = ['keyId', 'keys', 'required'],
  ) {
    if (typeof options !== 'object' || options === null)
      throw badConfig(field, 'must be an object');
    rejectUnknownOptions(`security.protection.${field}`, options, known);
    if (typeof options.keys !== 'function') throw badConfig(`${field}.keys`, 'must be a function');
    if (typeof options.keyId !== 'function') this.check(options.keyId);
    if (options.required !== undefined && typeof options.required !== 'boolean') {
      throw badConfig(`${field}.required`, 'must be a boolean');
    }
  }

  get required(): boolean {
    return this.options.required !== false;
  }

  current(): string {
    const id = typeof this.options.keyId === 'function' ? this.options.keyId() : this.options.keyId;
    return this.check(id);
  }

  private check(id: unknown): string {
    if (typeof id !== 'string' || !KEY_ID.test(id)) {
      throw badConfig(
        `${this.field}.keyId`,
        `must be 1-64 characters of [A-Za-z0-9_.:-], got ${JSON.stringify(id)}`,
      );
    }
    return id;
  }

  /** The key of `id` if it was resolved before: the common case, answered without a promise. */
  cached(id: string): KeyObject | undefined {
    return this.cache.get(id);
  }

  /** The secret of `id`; a HUB_INTEGRITY_FAILED error for an unknown or malformed one. */
  async get(id: string): Promise<KeyObject> {
    const hit = this.cache.get(id);
    if (hit !== undefined) return hit;
    if (!KEY_ID.test(id))
      throw fail(`${this.field} key id ${JSON.stringify(id.slice(0, 80))} is malformed`);
    let raw: Uint8Array | string | undefined;
    try {
      raw = await this.options.keys(id);
    } catch (err) {
      throw fail(`${this.field} key provider failed for key id "${id}"`, err);
    }
    if (raw === undefined || raw === null) throw fail(`${this.field} key id "${id}" is unknown`);
    if (typeof raw !== 'string' && !(raw instanceof Uint8Array)) {
      throw fail(`${this.field} key provider gave no bytes or base64 string for key id "${id}"`);
    }
    const key = typeof raw === 'string' ? Buffer.from(raw, 'base64') : Buffer.from(raw);
    if (this.exactBytes !== undefined ? key.length !== this.exactBytes : key.length < 16) {
      throw fail(
        `${this.field} key "${id}" has ${key.length} bytes, needs ${this.exactBytes ?? 'at least 16'}`,
      );
    }
    if (this.cache.size >= KEY_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    const object = createSecretKey(key);
    this.cache.set(id, object);
    return object;
  }
}

/** The fields encryption binds as additional data: a ciphertext moved to another envelope fails. */
function boundData(env: Envelope, keyId: string, zip: string): Buffer {
  return Buffer.from(
    JSON.stringify(['hub-aead-v1', env.kind, env.id, env.type, addressOf(env), keyId, zip]),
  );
}

/**
 * What the signature covers: everything a receiver acts on, but not `attempt`
 * (redeliveries raise it). `headers` and `body` are those the envelope
 * travels with (the sealed ones on the way out); every `hub-*` header but the
 * signature is covered, in name order. The text is the JSON array
 * `['hub-sig-v1', kind, id, type, source, address, timestamp, expiresAt,
 * correlationId, replyTo, deliveryGuarantee, hubHeaders, body]`. With
 * `sealed`, a string body (the base64 of compressed or encrypted bytes) is
 * quoted into it as is instead of through JSON.stringify, which would scan
 * its every character for escapes: base64 needs none, so the text is the same.
 */
function signedText(
  env: Envelope,
  headers: Record<string, string>,
  body: unknown,
  sealed = false,
): string {
  const names: string[] = [];
  for (const k of Object.keys(headers)) {
    if (k.startsWith('hub-') && k !== SIGNATURE_HEADER) names.push(k);
  }
  names.sort();
  const hubHeaders = names.map((k) => [k, headers[k]]);
  const m = env.kind === 'message' ? env : undefined;
  const head = JSON.stringify([
    'hub-sig-v1',
    env.kind,
    env.id,
    env.type,
    env.source,
    addressOf(env),
    env.timestamp,
    env.expiresAt ?? null,
    m?.correlationId ?? null,
    m?.replyTo ?? null,
    m?.deliveryGuarantee ?? null,
    hubHeaders,
  ]);
  const open = head.slice(0, -1);
  if (sealed && typeof body === 'string') return `${open},"${body}"]`;
  // As an element of the array: what JSON leaves out (undefined) is null there.
  return `${open},${JSON.stringify(body ?? null) ?? 'null'}]`;
}

/**
 * The HMAC-SHA256 of an arrived envelope, under `key`. The body of one
 * marked compressed or encrypted is quoted into the text as it is (checking
 * it for base64 first costs as much as the escape scan it saves): a sealed
 * body is base64, which is what its signer wrote; a body that is not and
 * needs escapes gets a text its signer never signed, so it fails, as it
 * would fail to decode. The text still names the body unambiguously (it is
 * what lies between the other fields and the closing quote), so a
 * signature cannot be moved to another body.
 */
const macOf = (key: KeyObject, env: Envelope) => {
  const h = env.headers;
  const sealed = h[KEY_ID_HEADER] !== undefined || h[COMPRESSION_HEADER] !== undefined;
  return createHmac('sha256', key)
    .update(signedText(env, h, bodyOf(env), sealed))
    .digest();
};

/** `key` when the provider already gave it, else a promise of it (the first use of a key id). */
const keyOf = (keys: Keys, id: string): KeyObject | Promise<KeyObject> =>
  keys.cached(id) ?? keys.get(id);

/**
 * Fresh random IVs, drawn from the CSPRNG 256 at a time: `randomBytes(12)`
 * per envelope cost ~5 µs, most of it the call, not the randomness. Each IV
 * is used once.
 */
const IV_POOL = 256;
let ivPool = Buffer.alloc(0);
let ivAt = 0;
function nextIv(): Buffer {
  if (ivAt >= ivPool.length) {
    ivPool = randomFillSync(Buffer.allocUnsafe(IV_BYTES * IV_POOL));
    ivAt = 0;
  }
  const iv = ivPool.subarray(ivAt, ivAt + IV_BYTES);
  ivAt += IV_BYTES;
  return iv;
}

/**
 * Brotli at quality 4: the default (11) is made for static files and took
 * ~1.2 ms per 1 KB envelope, against ~25 µs here for nearly the same size.
 */
const BROTLI_QUALITY = 4;
const MAX_CHUNK = 64 * 1024;

/**
 * The smallest window (2^9 to 2^15 bytes) that still reaches back over all
 * of `n` bytes (deflate keeps 262 bytes of look-ahead out of its window): a
 * payload that fits in it compresses exactly as with the full 32 KiB window,
 * while zlib allocates and clears far less state per envelope (the full
 * window and hash table are ~256 KiB set up per call, most of the cost of
 * compressing 1 KB).
 */
function windowBitsFor(n: number): number {
  let bits = 9;
  while (bits < 15 && 1 << bits < n + 262) bits++;
  return bits;
}

/**
 * Compress `bytes` as standard gzip or brotli, sized to the input: any
 * reader inflates the result (the window is written in the stream header).
 */
function compress(bytes: Buffer, algorithm: 'gzip' | 'br'): Buffer {
  const windowBits = windowBitsFor(bytes.length);
  // One output chunk for what does not compress at all (so no concatenation),
  // instead of Node's fixed 16 KiB per call.
  const chunkSize = Math.min(MAX_CHUNK, bytes.length + 64);
  if (algorithm === 'gzip') {
    return gzipSync(bytes, { windowBits, memLevel: Math.max(1, windowBits - 6), chunkSize });
  }
  return brotliCompressSync(bytes, {
    chunkSize,
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlibConstants.BROTLI_PARAM_LGWIN]: Math.max(10, windowBits),
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });
}

/**
 * Inflate, refusing output past `maxOut`. The output chunk is sized from the
 * length a gzip stream declares in its trailer (a hint only: a lying one
 * costs more chunks, never more than `maxOut` bytes), not Node's fixed
 * 16 KiB per call.
 */
function decompress(bytes: Buffer, zip: 'gzip' | 'br', maxOut: number): Buffer {
  const declared = zip === 'gzip' && bytes.length >= 18 ? bytes.readUInt32LE(bytes.length - 4) : 0;
  const guess = declared > 0 ? declared + 64 : bytes.length * 8;
  const chunkSize = Math.max(1024, Math.min(MAX_CHUNK, guess, maxOut + 64));
  return zip === 'gzip'
    ? gunzipSync(bytes, { maxOutputLength: maxOut, chunkSize })
    : brotliDecompressSync(bytes, { maxOutputLength: maxOut, chunkSize });
}

function decode(field: string, value: string | undefined, bytes?: number): Buffer {
  if (value === undefined) throw fail(`headers.${field} is missing`);
  const buf = Buffer.from(value, 'base64');
  if ((bytes !== undefined && buf.length !== bytes) || buf.toString('base64') !== value) {
    throw fail(
      `headers.${field} is not ${bytes ?? 'valid'}${bytes === undefined ? '' : ' bytes of'} base64`,
    );
  }
  return buf;
}

/**
 * Build the protection of envelopes for `createHub({ security: { protection } })`:
 * compression above a threshold, AES-256-GCM encryption of the payload and an
 * HMAC signature over the canonical fields and the sender's identity, each
 * marked in headers, so a receiver knows what to undo and refuses what does
 * not check out (`HUB_INTEGRITY_FAILED`, then the message is dead-lettered).
 */
export function envelopeProtection(options: ProtectionOptions): EnvelopeProtection {
  if (typeof options !== 'object' || options === null) throw badConfig('', 'must be an object');
  rejectUnknownOptions('security.protection', options, ['signing', 'encryption', 'compression']);
  const signing = options.signing && new Keys('signing', options.signing, undefined);
  const encryption =
    options.encryption &&
    new Keys('encryption', options.encryption, 32, ['keyId', 'keys', 'required', 'enabled']);
  const encryptionEnabled = options.encryption?.enabled;
  if (encryptionEnabled !== undefined && typeof encryptionEnabled !== 'boolean') {
    throw badConfig('encryption.enabled', 'must be a boolean');
  }
  /** Encrypt on the way out (the keys may be there for reading only). */
  const encrypts = encryption !== undefined && encryptionEnabled !== false;
  /** A hub that writes plaintext does not require encryption of others unless told to. */
  const encRequired = encryption !== undefined && (options.encryption!.required ?? encrypts);
  const warnings: string[] = [];
  if (encryption !== undefined && !encrypts) {
    warnings.push(
      'encryption is off (encryption.enabled: false) although a key is configured: payloads leave this hub in the clear',
    );
  }
  for (const [field, keys] of [
    ['signing', signing],
    ['encryption', encryption],
  ] as const) {
    const required = field === 'signing' ? keys?.required : encRequired;
    if (keys !== undefined && !required && (field === 'signing' || encrypts)) {
      warnings.push(
        `${field}.required is false: arrived envelopes without ${field === 'signing' ? 'a signature' : 'encryption'} are accepted`,
      );
    }
  }
  const comp = options.compression;
  if (comp !== undefined) {
    rejectUnknownOptions('security.protection.compression', comp, [
      'algorithm',
      'thresholdBytes',
      'maxDecompressedBytes',
    ]);
    if (comp.algorithm !== undefined && comp.algorithm !== 'gzip' && comp.algorithm !== 'br') {
      throw badConfig(
        'compression.algorithm',
        `must be "gzip" or "br", got ${JSON.stringify(comp.algorithm)}`,
      );
    }
    for (const k of ['thresholdBytes', 'maxDecompressedBytes'] as const) {
      const v = comp[k];
      if (v !== undefined && (!Number.isInteger(v) || v < 0))
        throw badConfig(`compression.${k}`, 'must be an integer >= 0');
    }
  }
  const algorithm = comp?.algorithm ?? 'gzip';
  const threshold = comp?.thresholdBytes ?? 1024;
  const maxOut = comp?.maxDecompressedBytes ?? 8 * 1024 * 1024;

  /**
   * Seal with the keys at hand. Synchronous: the keys come resolved, so a
   * send through the protection costs no asynchronous hop. One copy of the
   * headers and one of the envelope, whatever the steps.
   */
  const sealWith = (
    env: Envelope,
    encKeyId: string,
    encKey: KeyObject | undefined,
    sigKeyId: string,
    sigKey: KeyObject | undefined,
  ): Envelope => {
    const headers: Record<string, string> = { ...env.headers };
    let body = bodyOf(env);
    let base64 = false;
    if (comp !== undefined || encKey !== undefined) {
      let bytes: Buffer = Buffer.from(JSON.stringify(body ?? null));
      let zip = '';
      if (comp !== undefined && bytes.length >= threshold) {
        bytes = compress(bytes, algorithm);
        zip = algorithm;
        headers[COMPRESSION_HEADER] = zip;
      }
      if (encKey !== undefined) {
        const iv = nextIv();
        const cipher = createCipheriv('aes-256-gcm', encKey, iv, { authTagLength: TAG_BYTES });
        cipher.setAAD(boundData(env, encKeyId, zip));
        const head = cipher.update(bytes);
        // GCM is a stream mode: final() only computes the tag (no bytes, nothing to join).
        const tail = cipher.final();
        bytes = tail.length === 0 ? head : Buffer.concat([head, tail]);
        headers[KEY_ID_HEADER] = encKeyId;
        headers[IV_HEADER] = iv.toString('base64');
        headers[TAG_HEADER] = cipher.getAuthTag().toString('base64');
      }
      if (zip !== '' || encKey !== undefined) {
        body = bytes.toString('base64');
        base64 = true;
      }
    }
    if (sigKey !== undefined) {
      const mac = createHmac('sha256', sigKey)
        .update(signedText(env, headers, body, base64))
        .digest('base64');
      headers[SIGNATURE_HEADER] = `${sigKeyId}.${mac}`;
    }
    return withBody(env, body, headers);
  };

  const sealNow = (env: Envelope): Envelope | Promise<Envelope> => {
    const encKeyId = encrypts ? encryption!.current() : '';
    const sigKeyId = signing === undefined ? '' : signing.current();
    const encKey = encrypts ? keyOf(encryption!, encKeyId) : undefined;
    const sigKey = signing === undefined ? undefined : keyOf(signing, sigKeyId);
    if (isThenable(encKey) || isThenable(sigKey)) {
      // The first envelope under a key id: the provider is asked (once).
      return Promise.all([encKey, sigKey]).then(([e, k]) =>
        sealWith(env, encKeyId, e, sigKeyId, k),
      );
    }
    return sealWith(env, encKeyId, encKey, sigKeyId, sigKey);
  };

  /** Check the signature of `env` against `key`; throws when it does not verify. */
  const verify = (env: Envelope, key: KeyObject, keyId: string, given: Buffer): void => {
    const mac = macOf(key, env);
    if (!timingSafeEqual(mac, given)) {
      throw fail(
        `the signature of ${env.id} (key "${keyId}") does not verify: the envelope or its identity was changed`,
      );
    }
  };

  /**
   * Verify, then decrypt and inflate. Synchronous while the keys are known;
   * the first envelope under a new key id waits for the provider. The
   * signature is checked before anything else is read, and before the
   * encryption key provider is asked for a key id the envelope names.
   */
  const openNow = (env: Envelope): Envelope | Promise<Envelope> => {
    const h = env.headers;
    if (signing !== undefined) {
      const sig = h[SIGNATURE_HEADER];
      if (sig === undefined) {
        if (signing.required)
          throw fail(`${env.id} from ${h[IDENTITY_HEADER] ?? 'an unknown sender'} is not signed`);
      } else {
        const dot = sig.lastIndexOf('.');
        const keyId = dot > 0 ? sig.slice(0, dot) : '';
        const given = decode(SIGNATURE_HEADER, sig.slice(dot + 1), 32);
        const key = keyOf(signing, keyId);
        if (isThenable(key)) {
          return key.then((k) => {
            verify(env, k, keyId, given);
            return unseal(env);
          });
        }
        verify(env, key, keyId, given);
      }
    }
    return unseal(env);
  };

  /** Decrypt and inflate a verified envelope (or one signing does not cover). */
  const unseal = (env: Envelope): Envelope | Promise<Envelope> => {
    const h = env.headers;
    const keyId = h[KEY_ID_HEADER];
    const zip = h[COMPRESSION_HEADER] ?? '';
    if (zip !== '' && zip !== 'gzip' && zip !== 'br')
      throw fail(`headers.${COMPRESSION_HEADER} "${zip.slice(0, 20)}" is unknown`);
    if (keyId === undefined && zip === '') {
      if (encRequired) throw fail(`${env.id} is not encrypted, and this hub requires encryption`);
      return env;
    }
    const body = bodyOf(env);
    if (typeof body !== 'string')
      throw fail(
        `the ${env.kind === 'message' ? 'payload' : 'data'} of a protected envelope must be a base64 string`,
      );
    if (keyId === undefined) {
      if (encRequired) throw fail(`${env.id} is not encrypted, and this hub requires encryption`);
      return plainOf(env, Buffer.from(body, 'base64'), zip);
    }
    if (encryption === undefined)
      throw fail(
        `${env.id} is encrypted (key "${keyId.slice(0, 64)}") and this hub has no encryption keys`,
      );
    const key = keyOf(encryption, keyId);
    if (isThenable(key)) return key.then((k) => decrypt(env, body, k, keyId, zip));
    return decrypt(env, body, key, keyId, zip);
  };

  const decrypt = (
    env: Envelope,
    body: string,
    key: KeyObject,
    keyId: string,
    zip: '' | 'gzip' | 'br',
  ): Envelope => {
    const h = env.headers;
    const iv = decode(IV_HEADER, h[IV_HEADER], IV_BYTES);
    const tag = decode(TAG_HEADER, h[TAG_HEADER], TAG_BYTES);
    let bytes: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(boundData(env, keyId, zip));
      decipher.setAuthTag(tag);
      const head = decipher.update(Buffer.from(body, 'base64'));
      const tail = decipher.final();
      bytes = tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch (err) {
      throw fail(
        `${env.id} does not decrypt: its ciphertext, IV, tag or bound metadata were changed`,
        err,
      );
    }
    return plainOf(env, bytes, zip);
  };

  /** Inflate (when compressed) and parse the body; the envelope without the headers of the steps undone. */
  const plainOf = (env: Envelope, raw: Buffer, zip: '' | 'gzip' | 'br'): Envelope => {
    let bytes = raw;
    if (zip !== '') {
      try {
        bytes = decompress(bytes, zip, maxOut);
      } catch (err) {
        const tooBig = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
        throw fail(
          tooBig
            ? `${env.id} decompresses past maxDecompressedBytes (${maxOut}): refused as a compression bomb`
            : `${env.id} does not decompress (${zip})`,
          err,
        );
      }
    }
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw fail(`the protected body of ${env.id} is not JSON`, err);
    }
    const headers: Record<string, string> = {};
    const h = env.headers;
    for (const k of Object.keys(h)) {
      if (k !== KEY_ID_HEADER && k !== IV_HEADER && k !== TAG_HEADER && k !== COMPRESSION_HEADER)
        headers[k] = h[k]!;
    }
    return withBody(env, value, headers);
  };

  // A refusal is a rejected promise, as from an async function, never a throw
  // out of the call; a success is the envelope itself when no key had to be fetched.
  const seal = (env: Envelope): Envelope | Promise<Envelope> => {
    try {
      return sealNow(env);
    } catch (err) {
      return Promise.reject(err);
    }
  };
  const open = (env: Envelope): Envelope | Promise<Envelope> => {
    try {
      return openNow(env);
    } catch (err) {
      return Promise.reject(err);
    }
  };

  return { name: 'envelope-protection', signs: signing !== undefined, warnings, seal, open };
}
