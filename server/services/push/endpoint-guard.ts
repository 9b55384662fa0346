import { isIP } from 'node:net'
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'

// Push endpoints are URLs given by clients: without this guard Mercury could be made to send
// requests to hosts inside its own network (SSRF). Checked at registration and at each send.

function ipv4Private(ip: string): boolean {
  const [a, b] = ip.split('.').map(Number) as [number, number]
  return a === 10 || a === 127 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31)
    || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224
}

/** Loopback, private, link-local, unique-local, multicast or unspecified. */
export function isInternalAddress(ip: string): boolean {
  const version = isIP(ip)
  if (version === 4) return ipv4Private(ip)
  if (version === 6) {
    const lower = ip.toLowerCase()
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
    if (mapped) return ipv4Private(mapped[1]!)
    return lower === '::1' || lower === '::' || lower.startsWith('fc') || lower.startsWith('fd')
      || lower.startsWith('fe8') || lower.startsWith('fe9') || lower.startsWith('fea') || lower.startsWith('feb') || lower.startsWith('ff')
  }
  return false
}

/** Why an endpoint is refused, or null when it is acceptable. */
export function endpointProblem(endpoint: string, allowInsecure: boolean): string | null {
  let url: URL
  try {
    url = new URL(endpoint)
  }
  catch {
    return 'must be a URL'
  }
  if (allowInsecure) return url.protocol === 'https:' || url.protocol === 'http:' ? null : 'must be an http(s) URL'
  if (url.protocol !== 'https:') return 'must be an https URL'
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
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
