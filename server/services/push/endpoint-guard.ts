import { BlockList, isIP } from 'node:net'
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'

// Push endpoints are URLs given by clients: without this guard Mercury could be made to send
// requests to hosts inside its own network (SSRF). Checked at registration and at each send.

// Everything a push service cannot be: loopback, private, shared (CGNAT), link-local,
// unique-local, multicast, reserved and unspecified ranges. Node's BlockList applies the IPv4
// ranges to IPv4-mapped IPv6 addresses as well (::ffff:127.0.0.1, ::ffff:7f00:1). The IPv6
// prefixes that carry an IPv4 address inside (IPv4-compatible ::/96, NAT64, 6to4, Teredo) are
// refused whole: no push service uses them, and the address they lead to could be internal.
const INTERNAL = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) INTERNAL.addSubnet(network, prefix, 'ipv4')
for (const [network, prefix] of [
  ['::', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 32], ['2001:db8::', 32], ['2002::', 16],
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) INTERNAL.addSubnet(network, prefix, 'ipv6')

/** Loopback, private, link-local, unique-local, multicast, reserved or unspecified. */
export function isInternalAddress(ip: string): boolean {
  const version = isIP(ip)
  if (version === 0) return false
  return INTERNAL.check(ip, version === 4 ? 'ipv4' : 'ipv6')
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
  if (allowInsecure) return url.protocol === 'https:' || url.protocol === 'http:' ? null : 'must be an http(s) URL'
  if (url.protocol !== 'https:') return 'must be an https URL'
  // "localhost." is localhost: a trailing dot only makes the name fully qualified.
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.+$/, '')
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal')) {
    return 'must not point at a local host'
  }
  if (isInternalAddress(host)) return 'must not point at a loopback or private address'
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
      return callback(Object.assign(new Error(`push endpoint ${hostname} resolves to internal address ${internal.address}`), { code: 'EINTERNAL' }), [])
    }
    if ((options as { all?: boolean }).all) return callback(null, list)
    callback(null, list[0]!.address, list[0]!.family)
  })
}
