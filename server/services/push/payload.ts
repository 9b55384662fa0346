// The JSON a push carries to the service worker. Push services accept 4,096 bytes of encrypted
// payload, and aes128gcm adds 103 (header, tag, padding delimiter): the JSON is kept to 3,800.
import type { InboxItem, PushPayload } from '#shared/inbox/types'

export const MAX_PUSH_PAYLOAD_BYTES = 3800

/** A notification as the fanout reads it: the inbox item's fields, its time a Date. */
export type PushNotification = Omit<InboxItem, 'createdAt' | 'readAt'> & { createdAt: Date }

/** The service worker's payload (shared/inbox/types.ts), every field given. */
type Payload = Required<Omit<PushPayload, 'shortened'>> & Pick<PushPayload, 'shortened'>

const fits = (payload: Payload) => Buffer.byteLength(JSON.stringify(payload)) <= MAX_PUSH_PAYLOAD_BYTES

/**
 * `{user, id, topic, title, body, url, priority, createdAt}` for the user `user` (whose inbox it
 * goes to: a browser stores it only in that user's), made to fit a push: the body is cut (at a
 * character, with "…") as little as needed; a URL too long to fit even with no body is left out
 * (opening the notification then opens the app); `shortened: true` says either happened. Title
 * (256 characters) and topic always fit.
 */
export function pushPayload(n: PushNotification, user: string): string {
  return pushPayloads(n)(user)
}

/**
 * The payloads of one notification, by recipient. They differ only in `user`, so the fitting is
 * done once per length of the user's id (a fanout reaches thousands of users).
 */
export function pushPayloads(n: PushNotification): (user: string) => string {
  const fitted = new Map<number, Payload>()
  return (user) => {
    const size = Buffer.byteLength(JSON.stringify(user))
    let payload = fitted.get(size)
    if (!payload) {
      // A stand-in id of the same length in JSON: the recipient's then fits the same way.
      payload = fit({ user: 'u'.repeat(size - 2), id: n.id, topic: n.topic, title: n.title, body: n.body, url: n.url, priority: n.priority, createdAt: n.createdAt.toISOString() })
      fitted.set(size, payload)
    }
    return JSON.stringify({ ...payload, user })
  }
}

function fit(payload: Payload): Payload {
  if (fits(payload)) return payload
  payload.shortened = true
  if (!fits({ ...payload, body: '' })) {
    payload.url = null
    if (fits(payload)) return payload
  }
  return shortenBody(payload)
}

/** The payload with the longest start of its body that fits (binary search over code points). */
function shortenBody(payload: Payload): Payload {
  const chars = Array.from(payload.body)
  const attempt = (kept: number): Payload => ({ ...payload, body: kept === 0 ? '' : `${chars.slice(0, kept).join('')}…` })
  let low = 0
  let high = chars.length - 1
  while (low < high) {
    const middle = Math.ceil((low + high) / 2)
    if (fits(attempt(middle))) low = middle
    else high = middle - 1
  }
  return attempt(low)
}
