import { vapidKeys } from '../../services/push/vapid'

// The VAPID public key browsers need for pushManager.subscribe (base64url). Public by nature.
export default defineEventHandler(async () => {
  const { publicKey } = await vapidKeys()
  return { publicKey }
})
