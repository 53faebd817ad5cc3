/**
 * True for a host name or address that only this machine can reach:
 * `localhost`, 127.0.0.0/8, `::1` (and its IPv4-mapped form). A wildcard
 * bind (`0.0.0.0`, `::`, an empty host) and every other address are not:
 * adapters warn at start-up when such a bind or link runs without
 * authentication or TLS.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
