import type { H3Event } from 'h3'
import { publishSchema, type PublishInput } from '#shared/schemas/messages'
import { userFromToken, bearerToken, authenticate } from '../utils/auth'
import { mercuryConfig } from '../utils/config'
import { badRequest, parseJson, readLimitedBytes, describeIssues, rejectBadText, strictUtf8, utf8Text } from '../utils/validate'
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
  const bytes = await readLimitedBytes(event, mercuryConfig().maxPayloadBytes)
  if (/^text\/plain/i.test(type)) {
    const raw = decodeText(bytes, /;\s*charset="?([^";\s]+)/i.exec(type)?.[1])
    const priority = getRequestHeader(event, 'priority') ?? getRequestHeader(event, 'x-priority')
    const title = getRequestHeader(event, 'title') ?? getRequestHeader(event, 'x-title')
    // A title alone (in its header) is a notification; with neither there is nothing to say.
    if (raw.trim() === '' && title === undefined) badRequest('The text body is empty (and no Title header was given)')
    if (priority !== undefined && !/^\s*[1-5]\s*$/.test(priority)) badRequest(`The Priority header must be a number from 1 to 5, got "${priority}"`)
    const input = {
      notification: {
        title: title === undefined ? topic : headerText(title),
        body: raw,
        ...(priority === undefined ? {} : { priority: Number(priority) }),
      },
    }
    return validated(input)
  }
  if (type && !/json/i.test(type)) {
    throw createError({ statusCode: 415, statusMessage: 'Unsupported Media Type', message: 'Send application/json or text/plain' })
  }
  // No body at all is a message without data; a body must be a JSON object (`null` is not one).
  const body = parseJson(utf8Text(bytes))
  return validated(body === undefined ? {} : body)
}

/** A text body in its declared charset (UTF-8 when none); 415 for a charset not known here. */
function decodeText(bytes: Buffer, charset = 'utf-8'): string {
  let decoder: TextDecoder
  try {
    decoder = new TextDecoder(charset, { fatal: true })
  }
  catch {
    throw createError({ statusCode: 415, statusMessage: 'Unsupported Media Type', message: `Unknown charset "${charset}": send UTF-8` })
  }
  try {
    return decoder.decode(bytes)
  }
  catch {
    badRequest(`The text body is not valid ${decoder.encoding.toUpperCase()}`)
  }
}

/**
 * A header value as its sender meant it: Node reads header bytes as Latin-1, so UTF-8 (what curl
 * and browsers send for "Tëst ✓") comes out garbled. Bytes that are valid UTF-8 are read as UTF-8;
 * anything else stays Latin-1.
 */
function headerText(value: string): string {
  if (!/[\u0080-\u00ff]/.test(value)) return value
  try {
    return strictUtf8.decode(Buffer.from(value, 'latin1'))
  }
  catch {
    return value
  }
}

function validated(input: unknown): PublishInput {
  rejectBadText(input, 'message', ['data'])
  const result = publishSchema.safeParse(input)
  if (!result.success) badRequest(`Invalid message: ${describeIssues(result.error)}`, { issues: result.error.issues })
  return result.data
}

const STATUS: Record<PublishError['code'], number> = { bad_request: 400, unauthorized: 401, forbidden: 403, payload_too_large: 413, rate_limited: 429, unavailable: 503 }

export function publishErrorToHttp(event: H3Event, error: PublishError) {
  if (error.code === 'rate_limited' || error.code === 'unavailable') setResponseHeader(event, 'retry-after', 1)
  return createError({ statusCode: STATUS[error.code], message: error.message, data: { code: error.code } })
}
