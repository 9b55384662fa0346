import webpush from 'web-push'
import { describe, expect, it } from 'vitest'
import { parseRetryAfter, vapidAuthorization } from '../../server/services/push/send'

function claims(authorization: string): { aud: string, exp: number, sub: string } {
  const jwt = /^vapid t=([^,]+), k=/.exec(authorization)![1]!
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'))
}

describe('vapidAuthorization', () => {
  const keys = { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@example.com' }

  it('signs one JWT per push service origin and reuses it for an hour', () => {
    const t0 = Date.UTC(2026, 0, 1)
    const a = vapidAuthorization('https://push.example.com', keys, t0)
    expect(vapidAuthorization('https://push.example.com', keys, t0 + 59 * 60_000)).toBe(a)
    expect(claims(a)).toMatchObject({ aud: 'https://push.example.com', sub: 'mailto:ops@example.com', exp: t0 / 1000 + 12 * 3600 })
    const other = vapidAuthorization('https://updates.push.services.mozilla.com', keys, t0)
    expect(other).not.toBe(a)
    expect(claims(other).aud).toBe('https://updates.push.services.mozilla.com')
  })

  it('signs again after an hour, and for another key pair', () => {
    const t0 = Date.UTC(2026, 0, 2)
    const a = vapidAuthorization('https://push.example.com', keys, t0)
    const later = vapidAuthorization('https://push.example.com', keys, t0 + 61 * 60_000)
    expect(later).not.toBe(a)
    expect(claims(later).exp).toBe(t0 / 1000 + 61 * 60 + 12 * 3600)
    const rotated = { ...webpush.generateVAPIDKeys(), subject: keys.subject }
    expect(vapidAuthorization('https://push.example.com', rotated, t0 + 61 * 60_000)).toContain(`k=${rotated.publicKey}`)
  })
})

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 10, 6, 8, 49, 0)

  it('reads delay-seconds and the three HTTP-date forms of RFC 9110', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
    expect(parseRetryAfter('Fri, 06 Nov 2026 08:49:37 GMT', now)).toBe(37_000)
    expect(parseRetryAfter('Friday, 06-Nov-26 08:49:37 GMT', now)).toBe(37_000)
    expect(parseRetryAfter('Fri Nov  6 08:49:37 2026', now)).toBe(37_000)
    expect(parseRetryAfter(['7', '9'], now)).toBe(7000)
  })

  it('reads a date already past as 0', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(0)
  })

  it('reads anything else as no Retry-After (the backoff applies), not as a date long past', () => {
    for (const value of ['2.5', '-5', '1e3', '+3', '0x10', 'soon', '2026-11-06T08:50:00Z', 'Fri, 06 Nov 2026 08:49:37 UTC',
      'Fri, 31 Feb 2026 08:49:37 GMT', 'Fri, 06 Nov 2026 24:00:00 GMT', 'Fri, 6 Nov 2026 08:49:37 GMT', '', undefined]) {
      expect(parseRetryAfter(value, now), String(value)).toBeNull()
    }
  })
})
