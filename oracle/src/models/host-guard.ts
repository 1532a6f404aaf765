/**
 * Model URIs come from the ModelRegistry, where anyone may publish: a URI must not turn the node
 * (or an auditor) into a client of its own network. Unless the operator allows private hosts,
 * fetches go only to public addresses: a name is resolved once and the connection made to the
 * address checked (so a name that resolves to a public address for the check and a private one for
 * the connection cannot slip through), and redirects are checked the same way.
 */
import dns from "node:dns";
import net from "node:net";
import { PermanentError } from "../errors";

/** Loopback, private, link-local, shared, documentation, multicast and reserved ranges. */
const PRIVATE = new net.BlockList();
for (const [prefix, bits] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24],
  ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) PRIVATE.addSubnet(prefix, bits, "ipv4");
for (const [prefix, bits] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8], ["2001:db8::", 32]] as const) {
  PRIVATE.addSubnet(prefix, bits, "ipv6");
}

/** True for an address a public model server cannot have (IPv4-mapped IPv6 addresses included). */
export function isPrivateAddress(ip: string): boolean {
  const family = net.isIP(ip);
  if (family === 0) return false;
  return PRIVATE.check(ip, family === 4 ? "ipv4" : "ipv6");
}

/** Raised by {@link publicOnlyLookup} (and for a literal private address): the fetch is refused. */
export class PrivateAddressError extends PermanentError {
  override name = "PrivateAddressError";
  readonly code = "EPRIVATEADDRESS";
  constructor(readonly host: string, readonly address: string) {
    super(host === address ? `${host} is a private address` : `${host} resolves to the private address ${address}`);
  }
}

/** The private address a URL's literal IP host is, if it is one (Node connects to literals without a lookup). */
export function literalPrivateHost(url: string): string | undefined {
  const host = hostOf(url);
  return isPrivateAddress(host) ? host : undefined;
}

/** A URL's host name or address, without IPv6 brackets. */
function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, "");
}

/** The private address an http(s) URL's host is or resolves to, if any (for warnings: the fetch itself checks at connect time). */
export async function privateAddressOf(url: string): Promise<string | undefined> {
  const host = hostOf(url);
  if (net.isIP(host)) return isPrivateAddress(host) ? host : undefined;
  const addresses = await dns.promises.lookup(host, { all: true }).catch(() => []);
  return addresses.find((a) => isPrivateAddress(a.address))?.address;
}

/** A `lookup` for http(s).get that refuses names resolving to any private address. */
export const publicOnlyLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, "", 0);
    const blocked = addresses.find((a) => isPrivateAddress(a.address));
    if (blocked) return callback(new PrivateAddressError(hostname, blocked.address) as NodeJS.ErrnoException, "", 0);
    if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
};
