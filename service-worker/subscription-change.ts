// The push service replaced (or dropped) the subscription: subscribe again and tell the server.
import { base64UrlToBytes } from '#shared/utils/base64url'
import { sw } from './scope'

async function freshSubscription(event: PushSubscriptionChangeEvent): Promise<PushSubscription> {
  if (event.newSubscription) return event.newSubscription
  const res = await fetch('/api/push/public-key', { credentials: 'same-origin' })
  if (!res.ok) throw new Error(`public key: ${res.status}`)
  const { publicKey } = await res.json() as { publicKey: string }
  return sw.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(publicKey) })
}

export async function onPushSubscriptionChange(event: PushSubscriptionChangeEvent): Promise<void> {
  try {
    const subscription = await freshSubscription(event)
    await fetch('/api/devices', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subscription: subscription.toJSON() }),
    })
  }
  catch (error) {
    console.error('mercury: could not renew the push subscription', error)
  }
}
