import webpush from 'web-push'
import { describe, expect, it } from 'vitest'
import { vapidAuthorization } from '../../server/services/push/send'

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
