import { z } from 'zod'
import { useZodMessages } from '../utils/zod-messages'
import { TOPIC_RE } from '../utils/topics'
import { beforeIdNeedsBefore, beforeIdSchema, dateTimeSchema, queryIntSchema } from './dates'

useZodMessages()

export const topicSchema = z.string().regex(TOPIC_RE, 'must be 1-128 letters, digits or _ . - (not dots alone)')

// An absolute http(s) URL, or a path of the app ("/devices"): never "//host/…" or "/\host" (another
// site, opened as if it were a path), nor anything with spaces or control characters.
const httpUrl = z.string().max(2048).refine((value) => {
  if ([...value].some(c => c <= ' ' || c === '\u007f') || /\s/.test(value)) return false
  if (value.startsWith('/')) return !/^\/[/\\]/.test(value)
  try {
    const { protocol } = new URL(value)
    return /^https?:\/\//i.test(value) && (protocol === 'https:' || protocol === 'http:')
  }
  catch {
    return false
  }
}, 'must be an http(s) URL or a path starting with /')

export const notificationSchema = z.object({
  title: z.string().trim().min(1, 'is required').max(256),
  body: z.string().max(4096).default(''),
  url: httpUrl.optional(),
  /** 1 (lowest) to 5 (urgent); 3 is normal. */
  priority: z.number().int().min(1).max(5).default(3),
})

export const publishSchema = z.object({
  event: z.string().trim().min(1).max(64).default('message'),
  data: z.unknown().optional(),
  notification: notificationSchema.optional(),
})

export type NotificationInput = z.output<typeof notificationSchema>
export type PublishInput = z.output<typeof publishSchema>

/** What a client may give as `ref` to match the answer to its frame. */
export const refSchema = z.union([z.string().max(128), z.number()], { error: 'must be a string (up to 128 characters) or a number' })

const ref = refSchema.optional()

const datalinkPublishSchema = publishSchema.extend({ type: z.literal('publish'), ref, topic: topicSchema })

/** Frames a /datalink producer sends. */
export const datalinkFrameSchema = z.discriminatedUnion('type', [
  datalinkPublishSchema,
  z.object({ type: z.literal('ping'), ref }),
])

export type DatalinkPublish = z.output<typeof datalinkPublishSchema>

/** Frames a /channel client sends. */
export const channelFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('subscribe'), ref, topic: topicSchema, since: z.number().int().min(0).optional() }),
  z.object({ type: z.literal('unsubscribe'), ref, topic: topicSchema }),
  z.object({ type: z.literal('ping'), ref }),
])

/** `push` left out: on for a new subscription, unchanged for an existing one. */
export const subscriptionSchema = z.object({
  topic: topicSchema,
  push: z.boolean().optional(),
})

export const historyQuerySchema = z.object({
  since: queryIntSchema(0).default(0),
  limit: queryIntSchema(1, 1000).default(100),
})

export const inboxQuerySchema = z.object({
  before: dateTimeSchema.optional(),
  beforeId: beforeIdSchema.optional(),
  limit: queryIntSchema(1, 500).default(100),
  q: z.string().trim().max(200).optional(),
  topic: topicSchema.optional(),
  unread: z.enum(['true', 'false', '1', '0']).transform(v => v === 'true' || v === '1').optional(),
}).refine(...beforeIdNeedsBefore)

// One or the other: {ids, all: true} together is refused rather than read as either; {ids,
// all: false} is read as the ids (a client may always send `all`). `upTo` bounds
// {all: true} to what was published at or before that time: what the device had seen when the user
// asked (a read queued offline and sent later must not take what came meanwhile). One object with
// a check of its own rather than a union of two shapes: a union's error could only say that neither
// shape fits, where this one names the field that is wrong.
export const inboxReadSchema = z.strictObject({
  ids: z.array(z.string().min(1).max(64)).min(1, 'must not be empty').max(1000, 'must have at most 1,000 ids').optional(),
  all: z.boolean({ error: 'must be true (or give ids instead)' }).optional(),
  upTo: dateTimeSchema.optional(),
}).superRefine(({ ids, all, upTo }, ctx) => {
  if (ids && all) ctx.addIssue({ code: 'custom', message: 'give ids or all, not both' })
  else if (!ids && all === false) ctx.addIssue({ code: 'custom', path: ['all'], message: 'must be true (or give ids instead)' })
  else if (!ids && !all) ctx.addIssue({ code: 'custom', message: 'give {ids: [...]} or {all: true, upTo?: ISO date-time}' })
  else if (ids && upTo) ctx.addIssue({ code: 'custom', path: ['upTo'], message: 'goes with all: true only' })
}).transform(({ ids, upTo }) => ids ? { ids } : { all: true as const, upTo })

/** Error codes of error frames (see docs/PROTOCOL.md). */
export type ErrorCode = 'bad_request' | 'forbidden' | 'payload_too_large' | 'rate_limited' | 'limit_exceeded' | 'unauthorized' | 'unavailable' | 'internal'
