import net from 'node:net';

/**
 * Which IP addresses an `imageUrl` may be fetched from. By default only public unicast addresses: a
 * search request must not become a way to reach the machine itself, its network or a cloud metadata
 * endpoint (server-side request forgery). The check runs on the resolved address the socket then
 * connects to, so a hostname cannot resolve to one address when checked and another when used.
 */

/** IPv4 ranges that are not public unicast (RFC 6890 special-purpose registry and friends). */
const BLOCKED_V4: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches the local host on Linux
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

/** IPv6 ranges that are not public unicast. Ranges embedding an IPv4 address are handled apart. */
const BLOCKED_V6: readonly [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['100::', 64], // discard-only
  ['2001::', 32], // Teredo (tunnels to arbitrary IPv4 hosts)
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (ULA)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, still routed by some stacks)
  ['ff00::', 8], // multicast
];

const blocked = new net.BlockList();
for (const [address, prefix] of BLOCKED_V4) blocked.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of BLOCKED_V6) blocked.addSubnet(address, prefix, 'ipv6');

/** The 16 bytes of an IPv6 address in text form, or undefined when it is not one. */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (!net.isIPv6(text)) return undefined;
  let address = text.split('%')[0] ?? ''; // drop a zone id (fe80::1%eth0)
  const bytes = new Uint8Array(16);
  // A dotted-quad tail (::ffff:1.2.3.4) becomes two hextets.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  const quad = dotted?.[1];
  if (quad !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = quad.split('.').map(Number);
    const hex = (high: number, low: number) => ((high << 8) | low).toString(16);
    address = `${address.slice(0, -quad.length)}${hex(a, b)}:${hex(c, d)}`;
  }
  const [head = '', tail] = address.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailParts];
  if (parts.length !== 8) return undefined;
  parts.forEach((part, i) => {
    const value = parseInt(part, 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  });
  return bytes;
}

/**
 * The IPv4 address an IPv6 address stands for, when it is one of the forms that carry one: IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, deprecated), NAT64 (64:ff9b::a.b.c.d) or 6to4
 * (2002:AABB:CCDD::). Connecting to those reaches (or may be routed to) that IPv4 host.
 */
export function embeddedIpv4(bytes: Uint8Array): string | undefined {
  const zero = (from: number, to: number) => bytes.subarray(from, to).every((b) => b === 0);
  const quad = (at: number) => Array.from(bytes.subarray(at, at + 4)).join('.');
  if (zero(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return quad(12);
  if (zero(0, 12) && !zero(12, 14)) return quad(12); // ::a.b.c.d, but not :: or ::1
  const nat64 = [0x00, 0x64, 0xff, 0x9b];
  if (nat64.every((b, i) => bytes[i] === b) && zero(4, 12)) return quad(12);
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return quad(2);
  return undefined;
}

export type AddressVerdict =
  { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** Whether `address` (an IP literal, v4 or v6) is public unicast. */
export function checkPublicAddress(address: string): AddressVerdict {
  const family = net.isIP(address);
  if (family === 4) {
    return blocked.check(address, 'ipv4')
      ? { allowed: false, reason: `${address} is a private, loopback, link-local or reserved address` }
      : { allowed: true };
  }
  if (family !== 6) return { allowed: false, reason: `${address} is not an IP address` };
  const bytes = parseIpv6(address);
  if (bytes === undefined) return { allowed: false, reason: `${address} is not an IP address` };
  const v4 = embeddedIpv4(bytes);
  if (v4 !== undefined) {
    const inner = checkPublicAddress(v4);
    return inner.allowed ? inner : { allowed: false, reason: `${address} embeds ${v4}: ${inner.reason}` };
  }
  return blocked.check(address.split('%')[0] ?? address, 'ipv6')
    ? { allowed: false, reason: `${address} is a loopback, link-local, unique-local or reserved address` }
    : { allowed: true };
}

/** Decides per resolved address; `allowPrivate` (IMAGE_URL_ALLOW_PRIVATE) lets every address through. */
export type AddressPolicy = (address: string) => AddressVerdict;

export function addressPolicy(options: { readonly allowPrivate: boolean }): AddressPolicy {
  return options.allowPrivate ? () => ({ allowed: true }) : checkPublicAddress;
}
