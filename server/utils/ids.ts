import { randomUUID } from 'node:crypto'

let lastMs = 0
let seq = 0
let prefix = '' // lastMs as the first two groups

/**
 * A UUIDv7 (RFC 9562): the time in milliseconds first, then a 12-bit counter (method 1), then
 * random bits. Ids made by this process sort in the order they were made, also within one
 * millisecond. The randomness is randomUUID's (Node keeps a pool of random bytes for it): the
 * uuid package's v7 reads the system's random source on every call, 15 times slower, and an id is
 * made per publish and per inbox row.
 */
export function timeOrderedId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now
    seq = 0
    prefix = ''
  }
  else if (++seq > 0xfff) {
    lastMs++ // 4,096 in one millisecond: borrow the next one, as RFC 9562 allows
    seq = 0
    prefix = ''
  }
  if (!prefix) {
    const ms = lastMs.toString(16).padStart(12, '0')
    prefix = `${ms.slice(0, 8)}-${ms.slice(8)}-`
  }
  // randomUUID's last two groups keep its variant bits (10xx).
  return `${prefix}${(0x7000 | seq).toString(16)}-${randomUUID().slice(19)}`
}
