import { describe, expect, it } from 'vitest'
import { MAX_PUSH_PAYLOAD_BYTES, pushPayload, pushPayloads } from '../../server/services/push/payload'

const base = { id: '0190a1b2-0000-7000-8000-000000000000', topic: 'alerts.disk', title: 'Disk full', body: 'short', url: '/disks', priority: 3, createdAt: new Date('2026-11-24T10:00:00Z') }
const bytes = (json: string) => Buffer.byteLength(json)
const user = 'cm3alice000000000000000000'

describe('pushPayload', () => {
  it('sends a notification that fits as it is', () => {
    expect(JSON.parse(pushPayload(base, user))).toEqual({ user, ...base, createdAt: '2026-11-24T10:00:00.000Z' })
  })

  it('names the user it goes to, each of a fanout\'s recipients, and each one\'s is cut to fit as little as needed', () => {
    const payloadFor = pushPayloads({ ...base, body: 'a'.repeat(4096) })
    const recipients = ['b', user, 'x'.repeat(200), 'q"\\u€'.repeat(20)]
    for (const recipient of recipients) {
      const json = payloadFor(recipient)
      const payload = JSON.parse(json)
      expect(payload).toMatchObject({ user: recipient, id: base.id, shortened: true })
      expect(bytes(json)).toBeLessThanOrEqual(MAX_PUSH_PAYLOAD_BYTES)
      expect(bytes(JSON.stringify({ ...payload, body: `a${payload.body}` }))).toBeGreaterThan(MAX_PUSH_PAYLOAD_BYTES)
      expect(json).toBe(pushPayload({ ...base, body: 'a'.repeat(4096) }, recipient))
    }
    expect(JSON.parse(payloadFor('b')).body.length).toBeGreaterThan(JSON.parse(payloadFor(user)).body.length)
  })

  it.each([
    ['ASCII', 'a'.repeat(4096)],
    ['CJK (3 bytes each)', '漢'.repeat(2000)],
    ['emoji (4 bytes, two UTF-16 units each)', '😀'.repeat(2048)],
    ['quotes (escaped in JSON)', '"'.repeat(4096)],
    ['control characters (6 bytes in JSON)', '\u0001'.repeat(4096)],
  ])('cuts a long %s body as little as needed, at a character', (_, body) => {
    const json = pushPayload({ ...base, body }, user)
    expect(bytes(json)).toBeLessThanOrEqual(MAX_PUSH_PAYLOAD_BYTES)
    const payload = JSON.parse(json)
    expect(payload).toMatchObject({ title: 'Disk full', url: '/disks', shortened: true })
    expect(payload.body.endsWith('…')).toBe(true)
    const kept = payload.body.slice(0, -1)
    expect(body.startsWith(kept)).toBe(true)
    // One character more would not fit.
    const next = Array.from(body)[Array.from(kept).length]
    expect(bytes(JSON.stringify({ ...payload, body: `${kept}${next}…` }))).toBeGreaterThan(MAX_PUSH_PAYLOAD_BYTES)
    expect(Array.from(kept).length).toBeGreaterThan(500)
  })

  it('leaves out a URL that cannot fit, and keeps the body whole when it fits then', () => {
    const url = `/${'€'.repeat(2047)}`
    const payload = JSON.parse(pushPayload({ ...base, url, title: 'T'.repeat(256) }, user))
    expect(payload).toMatchObject({ url: null, body: 'short', shortened: true, title: 'T'.repeat(256) })
    const long = pushPayload({ ...base, url: `/${'"'.repeat(2047)}`, title: '漢'.repeat(256), body: '漢'.repeat(2000) }, user)
    expect(bytes(long)).toBeLessThanOrEqual(MAX_PUSH_PAYLOAD_BYTES)
    expect(JSON.parse(long)).toMatchObject({ url: null, title: '漢'.repeat(256), shortened: true })
  })

  it('keeps a long URL when only the body has to be cut', () => {
    const url = `https://example.com/${'x'.repeat(2000)}`
    const payload = JSON.parse(pushPayload({ ...base, url, body: 'b'.repeat(4096) }, user))
    expect(payload.url).toBe(url)
    expect(bytes(JSON.stringify(payload))).toBeLessThanOrEqual(MAX_PUSH_PAYLOAD_BYTES)
  })
})
