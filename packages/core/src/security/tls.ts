import { ErrorCode, HubError } from '@hub/protocol';
import { rejectUnknownOptions } from '../config/unknown-options.js';

type Pem = string | Uint8Array;

/**
 * TLS options an adapter passes through to its client connections (the
 * `node:tls` names): a private CA to trust, a client certificate. The
 * server's certificate is always checked: there is no way to turn that off
 * here (`rejectUnauthorized: false` is refused).
 */
export interface TlsClientOptions {
  /** CA certificates (PEM) to trust besides the system's. */
  ca?: Pem | readonly Pem[];
  /** Client certificate (PEM), for servers that ask for one. */
  cert?: Pem | readonly Pem[];
  /** Private key of the client certificate (PEM). */
  key?: Pem | readonly Pem[];
  /** Passphrase of `key`. */
  passphrase?: string;
  /** Name the server's certificate must carry (SNI), when it differs from the host. */
  servername?: string;
  /** Lowest TLS version accepted. @default Node's ('TLSv1.2') */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

const KNOWN = ['ca', 'cert', 'key', 'passphrase', 'servername', 'minVersion'] as const;

/** Check `value` as TLS client options of `owner`'s option `field`; throws HUB_INVALID_CONFIG naming it. */
export function checkTlsOptions(owner: string, field: string, value: unknown): void {
  if (value === undefined) return;
  const bad = (why: string) =>
    new HubError(ErrorCode.INVALID_CONFIG, `[hub:${owner}] option "${field}" ${why}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(
      'must be an object of TLS options (ca, cert, key, passphrase, servername, minVersion)',
    );
  }
  if ('rejectUnauthorized' in value) {
    throw bad(
      'may not set rejectUnauthorized: certificates are always checked (give the CA that signed the server certificate as "ca")',
    );
  }
  rejectUnknownOptions(`${owner} ${field}`, value as Record<string, unknown>, KNOWN);
}
