import { isDeepStrictEqual } from 'node:util'
import type { H3Event } from 'h3'
import type { z } from 'zod'

/** One line per problem: "password: must be at least 8 characters"; `explain` may word one itself. */
export function describeIssues(error: z.ZodError, explain?: (issue: z.core.$ZodIssue) => string | undefined): string {
  return error.issues
    .map((issue) => {
      const message = explain?.(issue) ?? issue.message
      return issue.path.length ? `${issue.path.join('.')}: ${message}` : message
    })
    .join('; ')
}

export function badRequest(message: string, data?: unknown): never {
  throw createError({ statusCode: 400, statusMessage: 'Bad Request', message, data })
}

/** A string no database here can store as text: a NUL (PostgreSQL), or a lone UTF-16 surrogate. */
function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain NUL characters'
  // JSON's \ud800 escapes make strings that are not Unicode: SQLite's driver cannot read them back
  // (it aborted the process), PostgreSQL refuses them.
  if (!(text as string & { isWellFormed(): boolean }).isWellFormed()) return 'must be valid Unicode (no unpaired surrogate such as \\ud800)'
  return null
}

/**
 * The first string that cannot be stored as text (see textProblem), or number that JSON cannot
 * carry (1e400 parses to Infinity, which would go out as null) or that parseJsonExact found a double
 * cannot carry exactly, with its path, or null. Such input is refused up front rather than changed
 * or failing in the database. `skip` names top-level keys stored as JSON text, where those
 * characters are escaped and harmless (their numbers are still checked). Keys are checked too.
 */
export function badText(value: unknown, skip: string[] = [], path = '', text = true): { path: string, problem: string } | null {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? null : { path: path || 'value', problem: 'is a number too large for JSON' }
  }
  if (value instanceof InexactNumber) {
    const written = value.source.length > 32 ? `${value.source.slice(0, 30)}…` : value.source
    return { path: path || 'value', problem: `is a number a double cannot carry exactly (${written} would arrive as ${value.parsed}): send such numbers as strings` }
  }
  if (typeof value === 'string') {
    const problem = text ? textProblem(value) : null
    return problem ? { path: path || 'value', problem } : null
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = badText(value[i], [], `${path}[${i}]`, text)
      if (found) return found
    }
  }
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const checkText = text && !(path === '' && skip.includes(key))
      const keyProblem = checkText ? textProblem(key) : null
      if (keyProblem) return { path: path || 'value', problem: `keys ${keyProblem}` }
      const found = badText(item, [], path ? `${path}.${key}` : key, checkText)
      if (found) return found
    }
  }
  return null
}

/** A number of a JSON text that parsing changed (see parseJsonExact): left for badText to refuse. */
class InexactNumber {
  constructor(readonly source: string, readonly parsed: number) {}
}

// Only a run of 16 digits (2^53 has 16) or an exponent of 3 can hold a number a double cannot
// carry exactly: any other text is parsed once, without a reviver (publishing is the hot path).
const MAYBE_INEXACT = /\d{16}|[eE][+-]?\d{3}/

/**
 * JSON.parse (throwing as it does), but a number that parsing changed becomes an InexactNumber,
 * refused by badText: an integer written without fraction or exponent beyond 2^53 that no double
 * holds (9007199254740993 parses to …992, a 19-digit id loses its last digits), and a number that
 * is not zero but parses to 0 (1e-400). Decimal fractions and exponents are rounded, as JSON
 * numbers always are; -0 becomes 0. A value nested deeper than MAX_JSON_DEPTH is returned as
 * parsed, for tooDeep to refuse: a reviver would recurse through it and exhaust the stack.
 */
export function parseJsonExact(text: string): unknown {
  const value: unknown = JSON.parse(text)
  if (!MAYBE_INEXACT.test(text) || tooDeep(value)) return value
  return JSON.parse(text, markInexact)
}

function markInexact(_key: string, value: unknown, context?: { source?: string }): unknown {
  const source = context?.source
  if (typeof value !== 'number' || source === undefined || !Number.isFinite(value)) return value
  const changed = value === 0
    ? /[1-9]/.test(source.split(/[eE]/)[0]!)
    : !Number.isSafeInteger(value) && /^-?\d+$/.test(source) && BigInt(source) !== BigInt(value)
  return changed ? new InexactNumber(source, value) : value
}

/**
 * JSON nesting allowed in a request or frame. Deeper input is refused: JSON.stringify, and any
 * walk over the value, would exhaust the stack long before the size limits are reached (a 10 KB
 * body of nested arrays does).
 */
export const MAX_JSON_DEPTH = 64

/** Whether a parsed JSON value nests deeper than MAX_JSON_DEPTH (top level: 1). No recursion. */
export function tooDeep(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false
  const stack: unknown[] = [value]
  const depths: number[] = [1]
  while (stack.length > 0) {
    const current = stack.pop() as object
    const depth = depths.pop()!
    if (depth > MAX_JSON_DEPTH) return true
    for (const item of Array.isArray(current) ? current : Object.values(current)) {
      if (item !== null && typeof item === 'object') {
        stack.push(item)
        depths.push(depth + 1)
      }
    }
  }
  return false
}

export function rejectBadText(value: unknown, where: string, skip: string[] = []): void {
  const found = badText(value, skip)
  if (found) badRequest(`Invalid ${where}: ${found.path}: ${found.problem}`)
}

function validate<S extends z.ZodType>(schema: S, value: unknown, where: string, explain?: (issue: z.core.$ZodIssue) => string | undefined): z.output<S> {
  rejectBadText(value, where)
  const result = schema.safeParse(value)
  if (!result.success) {
    badRequest(`Invalid ${where}: ${describeIssues(result.error, explain)}`, { issues: result.error.issues })
  }
  return result.data
}

/** Where h3's readRawBody keeps a body it has read, so that a second read gets the same one. */
const RAW_BODY = Symbol.for('h3RawBody')

/** Past the limit, what a client still sends is read and dropped up to this, then the connection is cut. */
const DISCARD_MAX_BYTES = 16 * 1024 * 1024

/**
 * Reads the raw body with a size limit (413 past it) and without trusting Content-Length alone:
 * a body sent in chunks is counted as it arrives, and buffering stops at the limit instead of
 * keeping whatever the client sends (h3's readRawBody keeps it all). The rest is read and dropped,
 * so that a client still sending gets the answer rather than a reset, up to DISCARD_MAX_BYTES.
 */
export async function readLimitedBody(event: H3Event, limit = mercuryConfig().maxBodyBytes): Promise<string> {
  return utf8Text(await readLimitedBytes(event, limit))
}

/** Decodes UTF-8 and throws on bytes that are not (TextDecoder's default replaces them). */
export const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** UTF-8 bytes as text; bytes that are not UTF-8 are refused (400), never replaced with U+FFFD. */
export function utf8Text(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes)
  }
  catch {
    badRequest('The body is not valid UTF-8')
  }
}

/** readLimitedBody's bytes, undecoded (for a text body in another charset). */
export async function readLimitedBytes(event: H3Event, limit = mercuryConfig().maxBodyBytes): Promise<Buffer> {
  const req = event.node.req as typeof event.node.req & { [RAW_BODY]?: Promise<Buffer> }
  const declared = Number(req.headers['content-length'] ?? 0)
  const chunked = /\bchunked\b/i.test(String(req.headers['transfer-encoding'] ?? ''))
  const encoding = req.headers['content-encoding']
  // A compressed body would be read as if it were not: gzip bytes as "not UTF-8", or a plain body
  // that claims to be gzip published as it is. Nothing here decompresses (nor should: a small
  // compressed body can stand for a huge one).
  if ((declared || chunked) && encoding && !/^\s*identity\s*$/i.test(encoding)) {
    discardRest(req)
    throw createError({ statusCode: 415, statusMessage: 'Unsupported Media Type', message: `Bodies must not be compressed: send no Content-Encoding (got "${encoding}")` })
  }
  if (declared > limit) {
    discardRest(req)
    throw tooLarge(limit)
  }
  if (req[RAW_BODY]) return (await readRawBody(event, false)) ?? Buffer.alloc(0)
  if (!declared && !chunked) return Buffer.alloc(0)
  const body = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const stop = () => {
      req.off('data', onData).off('end', onEnd).off('error', onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) return chunks.push(chunk)
      stop()
      reject(tooLarge(limit))
      discardRest(req)
    }
    const onEnd = () => {
      stop()
      resolve(Buffer.concat(chunks))
    }
    const onError = (error: Error) => {
      stop()
      reject(req.socket.destroyed ? clientClosed(error) : error)
    }
    req.on('data', onData).on('end', onEnd).on('error', onError)
  })
  req[RAW_BODY] = body
  return await body
}

/**
 * What the client still sends of a refused body is read and dropped (Node would otherwise read it
 * all to keep the connection alive, whatever its declared length); past DISCARD_MAX_BYTES the
 * connection is cut.
 */
function discardRest(req: H3Event['node']['req']): void {
  let dropped = 0
  req.on('data', (more: Buffer) => {
    dropped += more.length
    if (dropped > DISCARD_MAX_BYTES) req.socket.destroy()
  })
}

const CLIENT_CLOSED = Symbol('client closed')

/**
 * The client closed the connection before sending all of its body (Node's "aborted"): nobody is
 * left to answer and nothing went wrong here, so the error handler (server/error-api.ts) neither
 * answers nor logs it. Anyone could otherwise fill the log with 500s and their stack traces.
 */
function clientClosed(cause: Error) {
  const error = createError({ statusCode: 400, statusMessage: 'Bad Request', message: 'The client closed the connection before sending its whole body', cause })
  return Object.assign(error, { [CLIENT_CLOSED]: true })
}

export function isClientClosed(error: unknown): boolean {
  return typeof error === 'object' && error !== null && CLIENT_CLOSED in error
}

function tooLarge(limit: number) {
  return createError({ statusCode: 413, statusMessage: 'Payload Too Large', message: `Body is larger than ${limit} bytes` })
}

/** A JSON body (undefined when empty), parsed by parseJsonExact: give it to badText before use. */
export function parseJson(raw: string): unknown {
  if (raw.trim() === '') return undefined
  let value: unknown
  try {
    value = parseJsonExact(raw)
  }
  catch {
    badRequest('Body is not valid JSON')
  }
  if (tooDeep(value)) badRequest(`Body is nested deeper than ${MAX_JSON_DEPTH} levels`)
  return value
}

/** The JSON body, or undefined when there is none; 415 when it is sent as another type. */
async function readJsonBody(event: H3Event): Promise<unknown> {
  const type = getRequestHeader(event, 'content-type') ?? ''
  const raw = await readLimitedBody(event)
  if (raw.trim() !== '' && type && !/json/i.test(type)) {
    throw createError({ statusCode: 415, statusMessage: 'Unsupported Media Type', message: 'Send the body as application/json' })
  }
  return parseJson(raw)
}

/**
 * A JSON body checked against a zod schema; 400 names each wrong field, 413 when too large.
 * `optional`: no body at all reads as `{}`.
 */
export async function parseBody<S extends z.ZodType>(event: H3Event, schema: S, { optional = false } = {}): Promise<z.output<S>> {
  const body = await readJsonBody(event)
  if (body !== undefined) return validate(schema, body, 'body')
  if (!optional) badRequest('A JSON body is required')
  return validate(schema, {}, 'body')
}

/**
 * What a route takes in the query or the body (DELETE /api/admin/grants?id= or {id}): the query
 * when it names any of the schema's fields, else the body. Given in both, they must agree: a body
 * naming something else is refused (400), never ignored. A body that names none of the fields
 * (`{}`, `null`, what some clients send with every DELETE) is left alone.
 */
export async function parseQueryOrBody<S extends z.ZodObject>(event: H3Event, schema: S): Promise<z.output<S>> {
  const query = getQuery(event)
  const keys = Object.keys(schema.shape)
  if (!keys.some(key => query[key] !== undefined)) return parseBody(event, schema)
  const fromQuery = parseQuery(event, schema)
  const body = await readJsonBody(event)
  const named = body && typeof body === 'object' && !Array.isArray(body)
    ? keys.filter(key => (body as Record<string, unknown>)[key] !== undefined)
    : []
  if (named.length === 0) return fromQuery
  const mask = Object.fromEntries(named.map(key => [key, true])) as Record<string, true>
  const fromBody = validate(schema.pick(mask), body, 'body') as Record<string, unknown>
  if (named.some(key => !isDeepStrictEqual(fromQuery[key], fromBody[key]))) {
    badRequest(`The query and the body name different ${keys.join(', ')}: give it in one of them, or the same in both`)
  }
  return fromQuery
}

export function parseParams<S extends z.ZodType>(event: H3Event, schema: S): z.output<S> {
  return validate(schema, getRouterParams(event, { decode: true }), 'path')
}

export function parseQuery<S extends z.ZodType>(event: H3Event, schema: S): z.output<S> {
  const query = getQuery(event)
  // `?limit=1&limit=2` reads as a list, which no parameter here takes.
  const repeated = (issue: z.core.$ZodIssue) => issue.path.length === 1 && Array.isArray(query[issue.path[0] as string])
    ? 'is given more than once: give it once'
    : undefined
  return validate(schema, query, 'query', repeated)
}

export function notFound(what: string): never {
  throw createError({ statusCode: 404, statusMessage: 'Not Found', message: `${what} not found` })
}

export function conflict(message: string, data?: unknown): never {
  throw createError({ statusCode: 409, statusMessage: 'Conflict', message, data })
}
