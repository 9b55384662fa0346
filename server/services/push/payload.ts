// The JSON a push carries to the service worker. Push services accept 4,096 bytes of encrypted
// payload, and aes128gcm adds 103 (header, tag, padding delimiter): the JSON is kept to 3,800.
import type { InboxItem, PushPayload } from '#shared/inbox/types'

export const MAX_PUSH_PAYLOAD_BYTES = 3800

/** A notification as the fanout reads it: the inbox item's fields, its time a Date. */
export type PushNotification = Omit<InboxItem, 'createdAt' | 'readAt'> & { createdAt: Date }

/** The service worker's payload (shared/inbox/types.ts), every field given. */
type Payload = Required<Omit<PushPayload, 'shortened'>> & Pick<PushPayload, 'shortened'>

const fits = (json: string) => Buffer.byteLength(json) <= MAX_PUSH_PAYLOAD_BYTES

/**
 * `{id, topic, title, body, url, priority, createdAt}`, made to fit a push: the body is cut (at a
 * character, with "…") as little as needed; a URL too long to fit even with no body is left out
 * (opening the notification then opens the app); `shortened: true` says either happened. Title
 * (256 characters) and topic always fit.
 */
export function pushPayload(n: PushNotification): string {
  const payload: Payload = { id: n.id, topic: n.topic, title: n.title, body: n.body, url: n.url, priority: n.priority, createdAt: n.createdAt.toISOString() }
  const json = JSON.stringify(payload)
  if (fits(json)) return json
  payload.shortened = true
  if (!fits(JSON.stringify({ ...payload, body: '' }))) {
    payload.url = null
    const withoutUrl = JSON.stringify(payload)
    if (fits(withoutUrl)) return withoutUrl
  }
  return shortenBody(payload)
}

/** The payload with the longest start of its body that fits (binary search over code points). */
function shortenBody(payload: Payload): string {
  const chars = Array.from(payload.body)
  const attempt = (kept: number) => JSON.stringify({ ...payload, body: kept === 0 ? '' : `${chars.slice(0, kept).join('')}…` })
  let low = 0
  let high = chars.length - 1
  while (low < high) {
    const middle = Math.ceil((low + high) / 2)
    if (fits(attempt(middle))) low = middle
    else high = middle - 1
  }
  return attempt(low)
}
