import { deviceRegisterSchema } from '#shared/schemas/devices'
import { lockUser, userGone } from '../../services/accounts'
import { deviceSelect, validPushKey } from '../../services/devices'
import { endpointProblem } from '../../services/push/endpoint-guard'

/** Devices a user may have: each notification is pushed to every one of them. */
const MAX_DEVICES = 100

// Registers this browser's push subscription. The same endpoint again, from the same user,
// updates it (new keys, turned back on). From another user (a second person logging in on the
// same browser) it becomes a new device of that user: the previous owner's device, with its name
// and delivery log, is removed, never handed over.
// The shared schema (the app checks with it too) plus what only the server can check: where the
// endpoint points, and whether the key is on the curve. Every problem is named in one answer.
const { subscription: subscriptionSchema } = deviceRegisterSchema.shape
const registerSchema = deviceRegisterSchema.extend({
  subscription: subscriptionSchema.extend({
    endpoint: subscriptionSchema.shape.endpoint.superRefine((endpoint, ctx) => {
      const problem = endpointProblem(endpoint, mercuryConfig().pushAllowInsecure)
      // An endpoint that is no URL at all has its issue already.
      if (problem && URL.canParse(endpoint)) ctx.addIssue({ code: 'custom', message: problem })
    }),
    keys: subscriptionSchema.shape.keys.extend({
      p256dh: subscriptionSchema.shape.keys.shape.p256dh.refine(key => Buffer.from(key, 'base64url').length !== 65 || validPushKey(key), 'must be a P-256 public key (an uncompressed point of the curve)'),
    }),
  }),
})

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { subscription, name } = await parseBody(event, registerSchema)
  const fields = { userId: user.id, p256dh: subscription.keys.p256dh, auth: subscription.keys.auth, disabledAt: null }
  const device = await useDb().$transaction(async (tx) => {
    // One request of the user's at a time counts and adds: several new devices at once cannot pass
    // the limit together, and a user deleted meanwhile gets no device.
    if (!await lockUser(tx, user.id)) userGone()
    const known = await tx.device.findFirst({ where: { endpoint: subscription.endpoint, userId: user.id }, select: { id: true } })
    if (!known && await tx.device.count({ where: { userId: user.id } }) >= MAX_DEVICES) {
      conflict(`At most ${MAX_DEVICES} devices per user: remove one first`)
    }
    await tx.device.deleteMany({ where: { endpoint: subscription.endpoint, userId: { not: user.id } } })
    return tx.device.upsert({
      where: { endpoint: subscription.endpoint },
      create: { ...fields, endpoint: subscription.endpoint, name: name || defaultName(getRequestHeader(event, 'user-agent')) },
      update: { ...fields, ...(name ? { name } : {}) },
      select: deviceSelect,
    })
  })
  setResponseStatus(event, 201)
  return device
})

function defaultName(userAgent = ''): string {
  const browser = /Edg\//.test(userAgent) ? 'Edge' : /Firefox\//.test(userAgent) ? 'Firefox' : /Chrom(e|ium)\//.test(userAgent) ? 'Chrome' : /Safari\//.test(userAgent) ? 'Safari' : 'Browser'
  const os = /Android/.test(userAgent) ? 'Android' : /iPhone|iPad/.test(userAgent) ? 'iOS' : /Mac OS X/.test(userAgent) ? 'macOS' : /Windows/.test(userAgent) ? 'Windows' : /Linux/.test(userAgent) ? 'Linux' : ''
  return os ? `${browser} on ${os}` : browser
}
