import { BlockList, isIP } from 'node:net'
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { warnAtMostEveryMinute } from '../../utils/warn'

// Push endpoints are URLs given by clients: without this guard Mercury could be made to send
// requests to hosts inside its own network (SSRF). Checked at registration and at each send.

// IPv4: everything a push service cannot be (loopback, private, shared (CGNAT), link-local,
// multicast, reserved and unspecified ranges) is refused; Node's BlockList applies these ranges
// to IPv4-mapped IPv6 addresses as well (::ffff:127.0.0.1, ::ffff:7f00:1), which are IPv4.
const INTERNAL_IPV4 = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) INTERNAL_IPV4.addSubnet(network, prefix, 'ipv4')

// An IPv4 rule matches an IPv6 address only when it is IPv4-mapped (::ffff:0:0/96).
const IPV4_MAPPED = new BlockList()
IPV4_MAPPED.addSubnet('0.0.0.0', 0, 'ipv4')

// IPv6: an allow-list, since the reserved space is too varied to list and keeps growing (SIIT
// ::ffff:0:0:0/96 and the rest of ::/8 carry IPv4 addresses too, SRv6 5f00::/16 …). Only global
// unicast (2000::/3) is allowed, without the blocks of the IANA IPv6 Special-Purpose Address
// Registry that lie in it: IETF protocol assignments 2001::/23 (Teredo, benchmarking, ORCHID …),
// documentation 2001:db8::/32 and 3fff::/20, 6to4 2002::/16, AS112 2620:4f:8000::/48.
const GLOBAL_UNICAST = new BlockList()
GLOBAL_UNICAST.addSubnet('2000::', 3, 'ipv6')
const SPECIAL_PURPOSE_IPV6 = new BlockList()
for (const [network, prefix] of [
  ['2001::', 23], ['2001:db8::', 32], ['2002::', 16], ['2620:4f:8000::', 48], ['3fff::', 20],
] as const) SPECIAL_PURPOSE_IPV6.addSubnet(network, prefix, 'ipv6')

/**
 * Any address a push service cannot have: for IPv4 (and IPv4-mapped IPv6) loopback, private,
 * link-local, multicast, reserved or unspecified; for IPv6 anything but public global unicast.
 * The one check for addresses written in an endpoint and for those a name resolves to.
 */
export function isInternalAddress(ip: string): boolean {
  const version = isIP(ip)
  if (version === 0) return false
  if (version === 4) return INTERNAL_IPV4.check(ip, 'ipv4')
  if (IPV4_MAPPED.check(ip, 'ipv6')) return INTERNAL_IPV4.check(ip, 'ipv6')
  return !GLOBAL_UNICAST.check(ip, 'ipv6') || SPECIAL_PURPOSE_IPV6.check(ip, 'ipv6')
}

/** Why an endpoint is refused, or null when it is acceptable. A URL already parsed is taken as is. */
export function endpointProblem(endpoint: string | URL, allowInsecure: boolean): string | null {
  let url: URL
  try {
    url = typeof endpoint === 'string' ? new URL(endpoint) : endpoint
  }
  catch {
    return 'must be a URL'
  }
  // Browsers never put credentials in an endpoint; stored, they would show in the device lists.
  if (url.username || url.password) return 'must not contain a user name or password'
  if (allowInsecure) return url.protocol === 'https:' || url.protocol === 'http:' ? null : 'must be an http(s) URL'
  if (url.protocol !== 'https:') return 'must be an https URL'
  // "localhost." is localhost: a trailing dot only makes the name fully qualified.
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.+$/, '')
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal')) {
    return 'must not point at a local host'
  }
  if (isInternalAddress(host)) return 'must not point at a loopback, private or reserved address'
  return null
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/** A dns.lookup for http(s) agents that refuses names resolving to internal addresses. */
export function guardedLookup(hostname: string, options: object, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, [])
    const list = addresses as LookupAddress[]
    const internal = list.find(a => isInternalAddress(a.address))
    if (internal) {
      // The error becomes the delivery's text, which its user reads: what an internal name
      // resolves to is for the server's log only.
      warnAtMostEveryMinute(`push endpoint ${hostname}`, `resolves to internal address ${internal.address}: refused`)
      return callback(Object.assign(new Error(`push endpoint ${hostname} resolves to an internal address: refused`), { code: 'EINTERNAL' }), [])
    }
    if ((options as { all?: boolean }).all) return callback(null, list)
    callback(null, list[0]!.address, list[0]!.family)
  })
}
