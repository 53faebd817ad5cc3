/**
 * Outbound safety: by default the adapter refuses to connect to loopback,
 * private, link-local and other non-public addresses, so a route table or a
 * redirect built from user input cannot reach internal services (SSRF). The
 * check runs on the address the name resolves to, at connect time, so a DNS
 * answer that changes between check and use cannot slip through.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** True for an address the adapter refuses unless private targets are allowed. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const lower = address.toLowerCase();
  // IPv4-mapped IPv6 (::ffff:10.0.0.1): judge the IPv4 address inside.
  const mapped = lower.startsWith('::ffff:') ? lower.slice(7) : undefined;
  if (mapped !== undefined && isIP(mapped) === 4) return blocked.check(mapped, 'ipv4');
  return blocked.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** Strip the brackets of an IPv6 URL host. */
export const bareHost = (hostname: string): string =>
  hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `net.connect` lookup that fails for non-public addresses. */
export function publicOnlyLookup(
  hostname: string,
  options: { all?: boolean; family?: number | string },
  callback: LookupCallback,
): void {
  dnsLookup(hostname, { ...options, all: true } as { all: true }, (err, addresses) => {
    if (err) return callback(err, '');
    const refused = addresses.find((a) => isPrivateAddress(a.address));
    if (refused !== undefined) {
      const e = new Error(
        `refused to connect to ${hostname} (${refused.address}): a private or loopback address (allowPrivateNetwork is false)`,
      ) as NodeJS.ErrnoException;
      e.code = 'HUB_PRIVATE_TARGET';
      return callback(e, '');
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}
