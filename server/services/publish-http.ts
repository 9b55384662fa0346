import type { H3Event } from 'h3'
import { publishSchema, type PublishInput } from '#shared/schemas/messages'
import { userFromToken, bearerToken, authenticate } from '../utils/auth'
import { mercuryConfig } from '../utils/config'
import { badRequest, parseJson, readLimitedBody, describeIssues, rejectNul } from '../utils/validate'
import type { PublishError, Publisher } from './ingest'
import { effectivePermissions } from './permissions'
import { sourceByToken } from './sources'

/** The publisher behind a REST publish: a source token, else a user allowed to publish. */
export async function httpPublisher(event: H3Event): Promise<Publisher> {
  const token = bearerToken(event)
  if (token?.startsWith('msrc_')) {
    const source = await sourceByToken(token)
    if (!source) throw createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Invalid or revoked source token' })
    return { kind: 'source', source }
  }
  const user = token ? await userFromToken(token) : await authenticate(event)
  if (!user) throw createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Send a source token: Authorization: Bearer msrc_…' })
  return { kind: 'user', userId: user.id, patterns: (await effectivePermissions(user.id)).publish }
}

/**
 * The message in a publish request: JSON as on /datalink, or a text/plain body that becomes the
 * notification's body (title from a `Title` header, else the topic; `Priority` header 1-5).
 */
export async function readPublishBody(event: H3Event, topic: string): Promise<PublishInput> {
  const type = getRequestHeader(event, 'content-type') ?? ''
  const raw = await readLimitedBody(event, mercuryConfig().maxPayloadBytes)
  if (/^text\/plain/i.test(type)) {
    if (raw.trim() === '') badRequest('The text body is empty')
    const priority = getRequestHeader(event, 'priority') ?? getRequestHeader(event, 'x-priority')
    const input = {
      notification: {
        title: getRequestHeader(event, 'title') ?? getRequestHeader(event, 'x-title') ?? topic,
        body: raw,
        ...(priority === undefined ? {} : { priority: Number(priority) }),
      },
    }
    return validated(input)
  }
  if (type && !/json/i.test(type)) {
    throw createError({ statusCode: 415, statusMessage: 'Unsupported Media Type', message: 'Send application/json or text/plain' })
  }
  return validated(parseJson(raw) ?? {})
}

function validated(input: unknown): PublishInput {
  rejectNul(input, 'message', ['data'])
  const result = publishSchema.safeParse(input)
  if (!result.success) badRequest(`Invalid message: ${describeIssues(result.error)}`, { issues: result.error.issues })
  return result.data
}

const STATUS: Record<PublishError['code'], number> = { bad_request: 400, unauthorized: 401, forbidden: 403, rate_limited: 429, unavailable: 503 }

export function publishErrorToHttp(event: H3Event, error: PublishError) {
  if (error.code === 'rate_limited' || error.code === 'unavailable') setResponseHeader(event, 'retry-after', 1)
  return createError({ statusCode: STATUS[error.code], message: error.message, data: { code: error.code } })
}
