import { z } from 'zod'
import { useZodMessages } from '../utils/zod-messages'
import { idSchema } from './accounts'
import { topicSchema } from './messages'
import { beforeIdNeedsBefore, beforeIdSchema, dateTimeSchema, queryIntSchema } from './dates'

useZodMessages()

const base64url = (bytes: number, what: string) => z.string()
  .regex(/^[A-Za-z0-9_-]+={0,2}$/, `must be base64url (${what})`)
  .refine(value => decodedLength(value) === bytes, `must decode to ${bytes} bytes (${what})`)

/** Length in bytes of a base64url string, without decoding it. */
function decodedLength(value: string): number {
  const clean = value.replace(/=+$/, '')
  return Math.floor(clean.length * 3 / 4)
}

/** The browser's PushSubscription JSON. The endpoint's address is checked on the server. */
export const pushSubscriptionSchema = z.object({
  endpoint: z.string().max(2048).url('must be a URL'),
  expirationTime: z.number().nullable().optional(),
  keys: z.object({
    p256dh: base64url(65, 'an uncompressed P-256 public key'),
    auth: base64url(16, 'the 16-byte auth secret'),
  }),
})

export const deviceRegisterSchema = z.object({
  subscription: pushSubscriptionSchema,
  name: z.string().trim().max(100).optional(),
})

export const deliveryStatusSchema = z.enum(['queued', 'sent', 'failed', 'expired'])
export type DeliveryStatus = z.infer<typeof deliveryStatusSchema>

export const deliveriesQuerySchema = z.object({
  status: deliveryStatusSchema.optional(),
  deviceId: idSchema.optional(),
  notificationId: idSchema.optional(),
  topic: topicSchema.optional(),
  since: dateTimeSchema.optional(),
  until: dateTimeSchema.optional(),
  before: dateTimeSchema.optional(),
  beforeId: beforeIdSchema.optional(),
  limit: queryIntSchema(1, 500).default(100),
}).refine(q => !q.since || !q.until || q.since <= q.until, { error: 'must not be later than until', path: ['since'] })
  .refine(...beforeIdNeedsBefore)

export type PushSubscriptionInput = z.infer<typeof pushSubscriptionSchema>
