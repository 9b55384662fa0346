import type { z } from 'zod'
import { refSchema, type ErrorCode } from '#shared/schemas/messages'
import type { Connection } from './hub'
import { MAX_JSON_DEPTH, badText, parseJsonExact, strictUtf8, tooDeep } from '../../utils/validate'

export function errorFrame(code: ErrorCode, message: string, ref?: unknown): string {
  return JSON.stringify({ type: 'error', code, message, ...(ref === undefined ? {} : { ref }) })
}

/** No longer following the topic: asked for, read access revoked, or the stored subscription deleted. */
export function unsubscribedFrame(topic: string, ref?: unknown): string {
  return JSON.stringify({ type: 'unsubscribed', topic, ...(ref === undefined ? {} : { ref }) })
}

export function pongFrame(ref?: unknown): string {
  return ref === undefined ? '{"type":"pong"}' : JSON.stringify({ type: 'pong', ref })
}

export type Parsed<T> = { ok: true, frame: T } | { ok: false, error: string }

/** A binary frame that is not UTF-8: refused, its ref looked for in what could be read of it. */
export class NotUtf8 {
  constructor(readonly lossy: string) {}
}

export type FrameText = string | NotUtf8

/**
 * A client frame's text: a text frame as ws gave it (ws closes the socket with 1007 on one that
 * is not UTF-8); a binary frame decoded strictly.
 */
export function frameText(message: { rawData: unknown }): FrameText {
  const raw = message.rawData
  if (typeof raw === 'string') return raw
  const bytes = raw as Uint8Array
  try {
    return strictUtf8.decode(bytes)
  }
  catch {
    return new NotUtf8(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  }
}

/** Parses one client frame: text, size, JSON, then the schema. The error is a ready error frame. */
export function parseFrame<S extends z.ZodType>(text: FrameText, maxBytes: number, schema: S): Parsed<z.output<S>> {
  // Read as U+FFFD, it would be published changed; REST refuses the same bytes too.
  if (text instanceof NotUtf8) return { ok: false, error: errorFrame('bad_request', 'frame is not valid UTF-8', peekRef(text)) }
  // A UTF-16 unit takes at most 3 bytes in UTF-8: only a text that could be over is measured.
  if (text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes) {
    return { ok: false, error: errorFrame('payload_too_large', `frame is larger than ${maxBytes} bytes`, peekRef(text)) }
  }
  let json: unknown
  try {
    json = parseJsonExact(text)
  }
  catch {
    return { ok: false, error: errorFrame('bad_request', 'frame is not valid JSON') }
  }
  const ref = refOf(json)
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, error: errorFrame('bad_request', 'frame must be a JSON object with a "type"') }
  }
  if (tooDeep(json)) return { ok: false, error: errorFrame('bad_request', `frame is nested deeper than ${MAX_JSON_DEPTH} levels`, ref) }
  const bad = badText(json, ['data'])
  if (bad) return { ok: false, error: errorFrame('bad_request', `${bad.path}: ${bad.problem}`, ref) }
  const result = schema.safeParse(json)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const type = (json as { type?: unknown }).type
    // An unknown type fails the union as a whole; a bad field (ref included) has its own path.
    const message = issue.path[0] === 'type' || (issue.code === 'invalid_union' && issue.path.length === 0)
      ? `unknown frame type ${JSON.stringify(type ?? null)}`
      : result.error.issues.map(i => `${i.path.join('.') || 'frame'}: ${i.message}`).join('; ')
    return { ok: false, error: errorFrame('bad_request', message, ref) }
  }
  return { ok: true, frame: result.data }
}

function refOf(json: unknown): unknown {
  if (typeof json !== 'object' || json === null) return undefined
  return validRef((json as { ref?: unknown }).ref)
}

/**
 * The ref an answer may carry: one the frame schema takes and badText does not refuse. Any other
 * (1e400, a NUL in it, 129 characters) is refused and left out of the error: echoing it would
 * give the client a ref it never sent (1e400 goes out as null) or the very text refused.
 */
function validRef(ref: unknown): string | number | undefined {
  return refSchema.safeParse(ref).success && !badText(ref) ? ref as string | number : undefined
}

// An oversized frame (or one refused for its rate) is not parsed whole; its ref is looked for
// near the start so the producer can still match the error to its publish.
export function peekRef(frame: FrameText): unknown {
  const text = frame instanceof NotUtf8 ? frame.lossy : frame
  const match = /"ref"\s*:\s*("(?:[^"\\]|\\.){0,128}"|-?\d{1,16})/.exec(text.slice(0, 4096))
  if (!match) return undefined
  try {
    return validRef(JSON.parse(match[1]!))
  }
  catch {
    return undefined
  }
}

/**
 * Applies the connection's frame rate limit. Over it, the frame is dropped with a rate_limited
 * error, sent at most once a second so that a flood does not turn into a flood of errors.
 */
export function overFrameLimit(conn: Connection, send: (frame: string) => void): boolean {
  if (!conn.frames || conn.frames.take()) return false
  const now = Date.now()
  if (!conn.limitedAt || now - conn.limitedAt >= 1000) {
    conn.limitedAt = now
    send(errorFrame('rate_limited', 'too many frames: slow down'))
  }
  return true
}
