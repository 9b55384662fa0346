// Property-based fuzzing of everything a client can send: the body of every REST route that reads
// one (found from the files under server/api), the query of every route that parses one, the path
// parameters, and every frame type of /channel and /datalink. The server must answer each with a
// 4xx or an error frame (or accept it, when it is valid), never a 5xx, a close or a crash; and a
// well-behaved subscriber connected meanwhile must get every message published to its topic.
import { createECDH } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import * as accountSchemas from '#shared/schemas/accounts'
import * as deviceSchemas from '#shared/schemas/devices'
import * as messageSchemas from '#shared/schemas/messages'
import * as sourceSchemas from '#shared/schemas/sources'
import { ADMIN_PASSWORD, startServer, type RunningServer } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createReader } from '../helpers/fixtures'
import { TestSocket, type Frame } from '../helpers/ws'

const SEED = Number(process.env.MERCURY_FUZZ_SEED ?? 20261123)
const RUNS = Number(process.env.MERCURY_FUZZ_RUNS ?? 150)
/** A push key that is a point of the curve, as a browser's is. */
const pushKey = createECDH('prime256v1').generateKeys().toString('base64url')
fc.configureGlobal({ seed: SEED, numRuns: RUNS, endOnFailure: true })

const root = path.resolve(import.meta.dirname, '../..')

interface RouteFile { method: string, route: string, source: string }

function routeFiles(): RouteFile[] {
  const found: RouteFile[] = []
  const walk = (folder: string, segments: string[]) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name)
      if (entry.isDirectory()) {
        walk(full, [...segments, entry.name])
        continue
      }
      const match = /^(.*)\.(get|post|put|patch|delete)\.ts$/.exec(entry.name)
      if (!match) continue
      const [, base, method] = match as unknown as [string, string, string]
      const parts = [...segments, ...(base === 'index' ? [] : [base])].map(s => s.replace(/^\[(.+)\]$/, ':$1'))
      found.push({ method: method.toUpperCase(), route: `/api/${parts.join('/')}`, source: readFileSync(full, 'utf8') })
    }
  }
  walk(path.join(root, 'server/api'), [])
  return found
}

const ROUTES = routeFiles()
/** Routes that read a body: they call parseBody or parseQueryOrBody (or readPublishBody, for publishing). */
const BODY_ROUTES = ROUTES.filter(r => /\b(parseBody|parseQueryOrBody|readPublishBody)\(/.test(r.source))
/** Routes that parse a query string. */
const QUERY_ROUTES = ROUTES.filter(r => /\b(parseQuery|parseQueryOrBody)\(/.test(r.source))
/** Routes with path parameters. */
const PARAM_ROUTES = ROUTES.filter(r => r.route.includes(':'))

// Every field name the API knows, for inputs shaped like the real ones but with any values.
const FIELDS = ['username', 'password', 'role', 'name', 'description', 'userId', 'groupId', 'topic', 'read', 'publish',
  'topics', 'status', 'id', 'subscription', 'endpoint', 'keys', 'p256dh', 'auth', 'expirationTime', 'ids', 'all', 'push',
  'currentPassword', 'newPassword', 'event', 'data', 'notification', 'title', 'body', 'url', 'priority', 'since', 'ref', 'type',
  '__proto__', 'constructor']
const QUERY_KEYS = ['limit', 'before', 'since', 'until', 'q', 'topic', 'unread', 'status', 'deviceId', 'notificationId', 'userId', 'groupId', 'id']

/** Values that tend to break validators: wrong types, edge numbers, odd strings, dates. */
const nasty = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1e308, -0, 2 ** 53, 3.5, '', ' ', '*', '.', '..', 'admin', 'user', 'active', 'draft',
    'https://127.0.0.1/x', 'http://[::1]/', 'javascript:alert(1)', '%', '\u0000', '\uffff', 'a'.repeat(300), '9'.repeat(40),
    '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '1970-01-01', 'NaN', 'Infinity', [], {}, [[]], { $ne: null }),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer(),
  fc.double(),
)
const leaf = fc.oneof(nasty, fc.jsonValue({ maxDepth: 2 }))
/** An object with the API's field names (nested once) and arbitrary values. */
const shaped = fc.dictionary(fc.constantFrom(...FIELDS), fc.oneof(leaf, fc.dictionary(fc.constantFrom(...FIELDS), leaf, { maxKeys: 4 }), fc.array(leaf, { maxLength: 4 })), { maxKeys: 6 })

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'text/plain; charset=latin1',
  'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', 'json', '*/*', 'text/json']

interface RestInput { kind: string, contentType: string | null, body: string | Uint8Array, headers?: Record<string, string> }

const headerText = fc.string({ maxLength: 60 }).map(s => s.replace(/[^\x20-\x7e]/g, '')) // header values are bytes
const restInput: fc.Arbitrary<RestInput> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue().map(v => ({ kind: 'json', contentType: 'application/json', body: JSON.stringify(v) ?? 'null' })) },
  { weight: 4, arbitrary: shaped.map(v => ({ kind: 'shaped', contentType: 'application/json', body: JSON.stringify(v) })) },
  { weight: 1, arbitrary: fc.anything().map(v => ({ kind: 'anything', contentType: 'application/json', body: JSON.stringify(v) ?? '' })) },
  { weight: 2, arbitrary: fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json().map(j => j.slice(0, -1))).map(s => ({ kind: 'garbage', contentType: 'application/json', body: s })) },
  { weight: 2, arbitrary: fc.record({ type: fc.constantFrom(...CONTENT_TYPES, null), body: fc.oneof(fc.json(), shaped.map(v => JSON.stringify(v)), fc.string()), title: headerText, priority: headerText })
    .map(({ type, body, title, priority }) => ({ kind: 'content-type', contentType: type, body: type === null ? new TextEncoder().encode(body) : body, headers: { title, priority } })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map(bytes => ({ kind: 'binary', contentType: 'application/json', body: bytes })) },
  { weight: 1, arbitrary: fc.record({ size: fc.integer({ min: 60_000, max: 400_000 }), field: fc.constantFrom(...FIELDS), json: fc.boolean() })
    .map(({ size, field, json }) => ({ kind: 'huge', contentType: json ? 'application/json' : 'text/plain', body: json ? JSON.stringify({ [field]: 'x'.repeat(size) }) : 'y'.repeat(size) })) },
)

/** A valid body for each body route (ids filled in at start): the mutations start from it. */
const EXAMPLES: Record<string, () => unknown> = {
  'DELETE /api/admin/grants': () => ({ id: targets.grant }),
  'POST /api/admin/grants': () => ({ userId: targets.userId, topic: 'fz.granted', read: true, publish: false }),
  'DELETE /api/admin/groups/:id/members': () => ({ userId: targets.userId }),
  'POST /api/admin/groups/:id/members': () => ({ userId: targets.userId }),
  'PATCH /api/admin/groups/:id': () => ({ name: 'fz-group', description: 'the group' }),
  'POST /api/admin/groups': () => ({ name: 'fz-new-group', description: '' }),
  'PATCH /api/admin/sources/:id': () => ({ name: 'fz-target', description: 'the source', topics: ['fz.*', 'fz2.*'] }),
  'POST /api/admin/sources': () => ({ name: 'fz-new-source', description: '', topics: 'fz.*', status: 'draft' }),
  'PATCH /api/admin/users/:id': () => ({ username: 'fz-target', password: 'fz-target-password', role: 'user' }),
  'POST /api/admin/users': () => ({ username: 'fz-new-user', password: 'fz-new-password', role: 'user' }),
  'POST /api/auth/login': () => ({ username: 'fz-target', password: 'fz-target-password' }),
  'POST /api/auth/logout': () => ({ endpoint: 'https://push.example.com/fz-logout' }),
  'POST /api/devices': () => ({
    subscription: { endpoint: 'https://push.example.com/fz-new', expirationTime: null, keys: { p256dh: pushKey, auth: Buffer.alloc(16, 2).toString('base64url') } },
    name: 'fz device',
  }),
  'POST /api/inbox/read': () => ({ ids: ['fz-notification'] }),
  'POST /api/me/password': () => ({ currentPassword: 'reader-password', newPassword: 'reader-password' }),
  'POST /api/me/tokens': () => ({ name: 'fz-token' }),
  'POST /api/subscriptions': () => ({ topic: 'fz.subscribed', push: true }),
  'POST /api/topics/:topic/messages': () => ({ event: 'fz', data: { a: [1, 'b'] }, notification: { title: 'fz', body: 'body', url: '/fz', priority: 3 } }),
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
const REMOVE = Symbol('remove')

/** Every path into a JSON value: its fields, and theirs. */
function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return []
  return Object.entries(value).flatMap(([key, inner]) => [[...prefix, key], ...pathsOf(inner, [...prefix, key])])
}

function withChange(value: Json, [key, ...rest]: string[], replacement: unknown): Json {
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string, Json>
  if (rest.length) copy[key!] = withChange(copy[key!] ?? {}, rest, replacement)
  else if (replacement === REMOVE) Reflect.deleteProperty(copy, key!)
  else copy[key!] = replacement as Json
  return copy as Json
}

/** A valid body with one to three of its fields replaced by odd values, removed or added. */
function mutated(example: unknown): fc.Arbitrary<RestInput> {
  const paths = [...pathsOf(example), ...FIELDS.map(f => [f])]
  const change = fc.tuple(fc.constantFrom(...paths), fc.oneof({ weight: 4, arbitrary: leaf }, { weight: 1, arbitrary: fc.constant(REMOVE) }, { weight: 1, arbitrary: shaped }))
  return fc.array(change, { minLength: 1, maxLength: 3 })
    .map(changes => changes.reduce<Json>((body, [at, value]) => withChange(body, at, value), example as Json))
    .map(body => ({ kind: 'mutated', contentType: 'application/json', body: JSON.stringify(body) }))
}

/** What each frame type's fields may hold: the real field names with any values, and the type. */
const frameOf = (type: string) => fc.tuple(shaped, fc.dictionary(fc.string({ maxLength: 8 }), leaf, { maxKeys: 2 }))
  .map(([fields, extra]) => ({ ...extra, ...fields, type }))

type FrameInput = { kind: string, data: string | Uint8Array }
const textFrame = (kind: string, arbitrary: fc.Arbitrary<string>): fc.Arbitrary<FrameInput> => arbitrary.map(data => ({ kind, data }))
const genericFrames = (maxBytes: number): Record<string, [fc.Arbitrary<FrameInput>, number]> => ({
  'arbitrary JSON': [textFrame('arbitrary JSON', fc.oneof(fc.json(), fc.jsonValue().map(v => JSON.stringify({ type: v, ref: v })))), RUNS],
  'non-JSON text': [textFrame('non-JSON text', fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json().map(j => `${j}}`))), RUNS],
  'binary': [fc.uint8Array({ maxLength: 300 }).map(data => ({ kind: 'binary', data })), RUNS],
  'oversized': [fc.record({ extra: fc.integer({ min: 1, max: maxBytes * 3 }), ref: fc.oneof(fc.string({ maxLength: 10 }), fc.integer()) })
    .map(({ extra, ref }) => ({ kind: 'oversized', data: JSON.stringify({ type: 'ping', ref, pad: 'z'.repeat(maxBytes + extra) }) })), 20],
})

const { channelFrameSchema, datalinkFrameSchema } = messageSchemas
const SCHEMAS: Record<string, unknown> = { ...accountSchemas, ...deviceSchemas, ...messageSchemas, ...sourceSchemas }
const MAX_BODY_BYTES = 64 * 1024

/**
 * Whether the route's own schema (the one its file passes to parseBody) accepts the input as the
 * server will read it. Only then may the answer be a 2xx; otherwise it must be a 4xx.
 */
function validFor(route: RouteFile, input: RestInput): boolean {
  const [, used, optional] = /(?:parseBody|parseQueryOrBody)\(event, (\w+)(, \{ optional: true \})?\)/.exec(route.source) ?? []
  // A route's own schema built on a shared one (`const x = shared.extend(…)`, adding what only the
  // server can check) accepts less than the shared one: judged by that, it may only refuse more.
  const name = used ? new RegExp(`const ${used} = (\\w+)\\.extend\\(`).exec(route.source)?.[1] ?? used : undefined
  const schema = name ? SCHEMAS[name] as z.ZodType | undefined : undefined
  if (!schema) throw new Error(`${route.method} ${route.route}: no schema ${name} in shared/schemas`)
  if (input.contentType && !/json/i.test(input.contentType)) return false
  const text = typeof input.body === 'string' ? input.body : new TextDecoder().decode(input.body)
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) return false
  if (optional && text.trim() === '') return true // no body at all: `{}`
  try {
    return schema.safeParse(JSON.parse(text)).success
  }
  catch {
    return false
  }
}

const ERROR_CODES = new Set(['bad_request', 'forbidden', 'not_found', 'payload_too_large', 'rate_limited', 'limit_exceeded', 'unauthorized', 'unavailable', 'internal'])
const typesOf = (schema: { options: readonly { shape: { type: { values: Set<unknown> } } }[] }) =>
  schema.options.flatMap(o => [...o.shape.type.values] as string[]).sort()

let server: RunningServer
let admin: ApiClient
let adminToken: string
let fuzzer: { client: ApiClient, token: string, id: string }
let fuzzSource: { id: string, token: string }
let targets: Record<string, string>
const counts: Record<string, number> = {}
const statuses: Record<string, number> = {}
const count = (key: string) => counts[key] = (counts[key] ?? 0) + 1

// The well-behaved pair: a source publishing to steady.ticks every 50 ms, a subscriber reading it.
let steadyProducer: TestSocket
let steadyReader: TestSocket
let steadyTimer: ReturnType<typeof setInterval> | undefined
const steadyAcks: Frame[] = []
const steadyProblems: string[] = []

beforeAll(async () => {
  server = await startServer({
    env: {
      MERCURY_SOURCE_RATE_LIMIT: '1000000',
      MERCURY_CHANNEL_FRAME_RATE: '1000000',
      MERCURY_DATALINK_FRAME_RATE: '1000000',
      MERCURY_LOGIN_MAX_FAILURES: '1000000',
      MERCURY_MAX_SUBSCRIPTIONS: '100000',
    },
  })
  admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  adminToken = (await admin.post('/api/me/tokens', { name: 'fuzz' })).body.token
  fuzzSource = await createActiveSource(admin, 'fuzz', 'fz.*')
  fuzzer = await createReader(admin, 'fuzzer', 'fz.*')
  // A personal token: a password change (which the fuzzing may well make) ends login tokens.
  fuzzer.token = (await fuzzer.client.post('/api/me/tokens', { name: 'fuzz' })).body.token
  fuzzer.client.cookie = ''
  fuzzer.client.token = fuzzer.token
  const watcher = await createReader(admin, 'watcher', 'steady.*')
  const steady = await createActiveSource(admin, 'steady', 'steady.*')
  // Things the admin routes with an :id act on, so that fuzzing them cannot touch the fixtures.
  const group = (await admin.post('/api/admin/groups', { name: 'fz-group' })).body.id
  const targetSource = (await admin.post('/api/admin/sources', { name: 'fz-target', topics: 'fz.*' })).body.source.id
  const targetUser = (await admin.post('/api/admin/users', { username: 'fz-target', password: 'fz-target-password' })).body.id
  const grant = (await admin.post('/api/admin/grants', { userId: targetUser, topic: 'fz.grant' })).body.id
  const device = (await fuzzer.client.post('/api/devices', {
    subscription: { endpoint: 'https://push.example.com/fz', keys: { p256dh: pushKey, auth: Buffer.alloc(16, 1).toString('base64url') } },
  })).body.id
  const token = (await fuzzer.client.post('/api/me/tokens', { name: 'fz-target' })).body.accessToken.id
  targets = { id: group, userId: targetUser, topic: 'fz.rest', grant, device, token, source: targetSource }

  steadyReader = await TestSocket.open(`${server.url}/channel`, { token: watcher.token })
  expect(await steadyReader.request({ type: 'subscribe', topic: 'steady.ticks' })).toMatchObject({ type: 'subscribed', offset: 0 })
  steadyProducer = await TestSocket.open(`${server.url}/datalink`, { token: steady.token })
  let n = 0
  steadyTimer = setInterval(() => {
    const i = n++
    steadyProducer.request({ type: 'publish', ref: `tick-${i}`, topic: 'steady.ticks', data: { i } }, 10_000)
      .then(ack => ack.type === 'ack' ? steadyAcks.push(ack) : steadyProblems.push(`tick ${i}: ${JSON.stringify(ack)}`))
      .catch((error: Error) => steadyProblems.push(`tick ${i}: ${error.message}`))
  }, 50)
  console.log(`fuzz: fast-check seed ${SEED} (MERCURY_FUZZ_SEED to change it), ${RUNS} runs per route and frame type`)
})

afterAll(async () => {
  if (steadyTimer) clearInterval(steadyTimer)
  await server?.stop()
})

/** The path of a route with the fixtures' ids, or `param` for one of them. */
function pathOf(route: RouteFile, param?: string): string {
  return route.route.replace(/:(\w+)/g, (_, name: string) => {
    if (param !== undefined) return param
    if (route.route.startsWith('/api/admin/grants')) return targets.grant!
    if (route.route.startsWith('/api/admin/sources')) return targets.source!
    if (route.route.startsWith('/api/admin/users')) return targets.userId!
    if (route.route.startsWith('/api/devices')) return targets.device!
    if (route.route.startsWith('/api/me/tokens')) return targets.token!
    return targets[name]!
  })
}

/** Admin routes as the admin, publishing as a source, logging in anonymously, the rest as a user. */
function credentialsFor(route: RouteFile): string | null {
  if (route.route.startsWith('/api/admin/')) return adminToken
  if (route.route.startsWith('/api/topics/') && route.method === 'POST') return fuzzSource.token
  if (route.route.startsWith('/api/auth/')) return null
  return fuzzer.token
}

async function send(method: string, url: string, token: string | null, input?: RestInput): Promise<{ status: number, text: string }> {
  const headers: Record<string, string> = { ...input?.headers }
  if (token) headers.authorization = `Bearer ${token}`
  if (input?.contentType) headers['content-type'] = input.contentType
  const res = await fetch(server.url + url, { method, headers, body: input?.body as BodyInit | undefined, redirect: 'manual' })
  return { status: res.status, text: await res.text() }
}

/** A 5xx, or an error answer that is not Mercury's JSON error. */
function problemWith(answer: { status: number, text: string }): string | undefined {
  statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.text.slice(0, 300)}`
  if (answer.status >= 400) {
    try {
      const body = JSON.parse(answer.text)
      if (body.statusCode !== answer.status) return `error body says ${body.statusCode}, status ${answer.status}`
    }
    catch {
      return `error body is not JSON: ${answer.text.slice(0, 100)}`
    }
  }
}

describe('fuzzing REST', () => {
  it('finds the routes to fuzz, and has a valid example body for each', () => {
    expect(BODY_ROUTES.length).toBeGreaterThanOrEqual(15)
    expect(Object.keys(EXAMPLES).sort()).toEqual(BODY_ROUTES.map(r => `${r.method} ${r.route}`).sort())
    expect(QUERY_ROUTES.length).toBeGreaterThanOrEqual(4)
    console.log(`fuzz: ${BODY_ROUTES.length} routes read a body, ${QUERY_ROUTES.length} a query, ${PARAM_ROUTES.length} have path parameters`)
  })

  it.each(BODY_ROUTES.map(r => [`${r.method} ${r.route}`, r] as const))('answers any body of %s with a 4xx (or accepts it), never a 5xx', async (key, route) => {
    // Publishing takes any object (every field is optional) and text/plain: any answer below 500 will do.
    const publishing = !/(parseBody|parseQueryOrBody)\(/.test(route.source)
    const example = EXAMPLES[key]!()
    await fc.assert(fc.asyncProperty(fc.oneof({ weight: 3, arbitrary: restInput }, { weight: 2, arbitrary: mutated(example) }), async (input) => {
      count(`REST body ${key}`)
      const answer = await send(route.method, pathOf(route), credentialsFor(route), input)
      const problem = problemWith(answer)
      if (problem) throw new Error(`${input.kind}: ${problem}`)
      if (answer.status < 400 && !publishing && !validFor(route, input)) {
        throw new Error(`${input.kind}: an invalid body accepted with ${answer.status}: ${String(input.body).slice(0, 200)} -> ${answer.text.slice(0, 200)}`)
      }
    }))
  })

  it.each(QUERY_ROUTES.map(r => [`${r.method} ${r.route}`, r] as const))('answers any query of %s with a 2xx or a 4xx', async (key, route) => {
    const value = fc.oneof(nasty.map(v => typeof v === 'string' ? v : JSON.stringify(v) ?? ''), fc.date({ noInvalidDate: false }).map(d => String(d.getTime())),
      fc.date().map(d => d.toISOString()), fc.bigInt().map(String))
    const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.constantFrom(...QUERY_KEYS).map(k => `${k}[]`), fc.string({ maxLength: 5 })), value), { maxLength: 5 })
    await fc.assert(fc.asyncProperty(query, async (pairs) => {
      count(`REST query ${key}`)
      const qs = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
      const answer = await send(route.method, `${pathOf(route)}?${qs}`, credentialsFor(route))
      const problem = problemWith(answer)
      if (problem) throw new Error(`?${qs}: ${problem}`)
    }), { numRuns: Math.ceil(RUNS * 2 / 3) })
  })

  it('reads whole numbers in a query as decimal digits only and dates as ISO 8601 date-times only, on every route', async () => {
    // What Number() and new Date() would also read: each was taken as some other number or instant.
    const NOT_INTEGERS = ['0x10', '1e1', ' 5', '+5', '5.0', '', '٥']
    const NOT_DATES = ['1.5', '-1', '2026', '1700000000000', '', '2026-01-31', '2026-01-31T12:00:00', 'Jan 31 2026 12:00 GMT', '2026-01-31 12:00:00Z']
    const PARAMS: Record<string, Record<string, 'integer' | 'date'>> = {
      'GET /api/topics/:topic/messages': { since: 'integer', limit: 'integer' },
      'GET /api/inbox': { before: 'date', limit: 'integer' },
      'GET /api/admin/deliveries': { since: 'date', until: 'date', before: 'date', limit: 'integer' },
      'GET /api/devices/:id/deliveries': { limit: 'integer' },
    }
    for (const [key, params] of Object.entries(PARAMS)) {
      const route = QUERY_ROUTES.find(r => `${r.method} ${r.route}` === key)
      expect(route, key).toBeDefined()
      for (const [name, kind] of Object.entries(params)) {
        for (const value of kind === 'integer' ? NOT_INTEGERS : NOT_DATES) {
          const answer = await send(route!.method, `${pathOf(route!)}?${name}=${encodeURIComponent(value)}`, credentialsFor(route!))
          expect(answer.status, `${key} ?${name}=${value}`).toBe(400)
          expect(JSON.parse(answer.text).message, `${key} ?${name}=${value}`).toMatch(new RegExp(`^Invalid query: ${name}: must be (a whole number|an ISO 8601 date-time)`))
        }
        for (const value of kind === 'integer' ? ['5', '05'] : ['2026-01-31T12:00:00Z', '2026-01-31T13:00:00.5+01:00']) {
          const answer = await send(route!.method, `${pathOf(route!)}?${name}=${encodeURIComponent(value)}`, credentialsFor(route!))
          expect(answer.status, `${key} ?${name}=${value}: ${answer.text.slice(0, 200)}`).toBe(200)
        }
        const given = kind === 'integer' ? '5' : '2026-01-31T12:00:00Z'
        const twice = await send(route!.method, `${pathOf(route!)}?${name}=${given}&${name}=${given}`, credentialsFor(route!))
        expect(JSON.parse(twice.text).message, `${key} ?${name} twice`).toBe(`Invalid query: ${name}: is given more than once: give it once`)
        // A + typed as it is reads as a space; a number past any limit is said to be so, once.
        const [typed, says] = kind === 'integer'
          ? ['99999999999999999999', /^Invalid query: \w+: must be at most \d+$/]
          : ['2026-01-31T13:00:00+01:00', /^Invalid query: \w+: must be an ISO 8601 date-time.*write \+ as %2B in a URL query/]
        const refused = await send(route!.method, `${pathOf(route!)}?${name}=${typed}`, credentialsFor(route!))
        expect(refused.status, `${key} ?${name}=${typed}`).toBe(400)
        expect(JSON.parse(refused.text).message, `${key} ?${name}=${typed}`).toMatch(says)
      }
    }
  })

  it('answers any path parameter with a 2xx or a 4xx', async () => {
    const param = fc.oneof(
      fc.string({ minLength: 1, maxLength: 80 }).map(encodeURIComponent),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).map(encodeURIComponent),
      fc.constantFrom('%', '%E0%A4%A', '%FF', '%00', '%2F', '..%2F..', '%25', 'a'.repeat(200), '*', '**', '.', '%20', 'null', 'undefined', '__proto__'),
    )
    await fc.assert(fc.asyncProperty(fc.constantFrom(...PARAM_ROUTES), param, async (route, value) => {
      count('REST path parameters')
      // Nothing to delete or change for real: the value never names a fixture.
      const answer = await send(route.method, pathOf(route, value), credentialsFor(route))
      const problem = problemWith(answer)
      if (problem) throw new Error(`${route.method} ${pathOf(route, value)}: ${problem}`)
    }), { numRuns: RUNS * 2 })
  })
})

/** Sends fuzz frames one at a time; each must be answered by exactly one reply frame. */
async function fuzzSocket(ws: TestSocket, label: string, arbitrary: fc.Arbitrary<FrameInput>, numRuns: number, replies: Set<string>) {
  await fc.assert(fc.asyncProperty(arbitrary, async (input) => {
    count(`${label} ${input.kind}`)
    const before = ws.frames.filter(f => f.type !== 'message').length
    ws.ws.send(input.data)
    const deadline = Date.now() + 3000
    let answers: Frame[] = []
    while (Date.now() < deadline) {
      answers = ws.frames.filter(f => f.type !== 'message').slice(before)
      if (answers.length > 0) break
      await new Promise(r => setTimeout(r, 1))
    }
    if (ws.ws.readyState !== ws.ws.OPEN) throw new Error(`${label} ${input.kind}: the server closed the socket: ${JSON.stringify(await ws.closed)}`)
    const [answer] = answers
    if (!answer) throw new Error(`${label} ${input.kind}: no answer to ${String(input.data).slice(0, 200)}`)
    if (!replies.has(answer.type)) throw new Error(`${label} ${input.kind}: unexpected answer ${JSON.stringify(answer)}`)
    if (answer.type === 'error' && !(ERROR_CODES.has(answer.code) && typeof answer.message === 'string')) throw new Error(`${label}: bad error frame ${JSON.stringify(answer)}`)
    if (answer.type === 'error' && answer.code === 'internal') throw new Error(`${label} ${input.kind}: internal error for ${String(input.data).slice(0, 200)}`)
  }), { numRuns })
}

describe('fuzzing WebSocket frames', () => {
  it('answers any /channel frame with an error frame or a valid reply, and stays open', async () => {
    const ws = await TestSocket.open(`${server.url}/channel`, { token: fuzzer.token })
    const types = typesOf(channelFrameSchema as never)
    expect(types).toEqual(['ping', 'subscribe', 'unsubscribe'])
    const replies = new Set(['error', 'pong', 'subscribed', 'unsubscribed'])
    for (const type of types) await fuzzSocket(ws, `/channel ${type}`, frameOf(type).map(f => ({ kind: 'fields', data: JSON.stringify(f) })), RUNS, replies)
    for (const [kind, [arbitrary, runs]] of Object.entries(genericFrames(16 * 1024))) await fuzzSocket(ws, `/channel`, arbitrary.map(f => ({ ...f, kind })), runs, replies)
    expect(await ws.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    await ws.close()
  })

  it('answers any /datalink frame with an error frame or a valid reply, and stays open', async () => {
    const ws = await TestSocket.open(`${server.url}/datalink`, { token: fuzzSource.token })
    const types = typesOf(datalinkFrameSchema as never)
    expect(types).toEqual(['ping', 'publish'])
    const replies = new Set(['error', 'pong', 'ack'])
    for (const type of types) await fuzzSocket(ws, `/datalink ${type}`, frameOf(type).map(f => ({ kind: 'fields', data: JSON.stringify(f) })), RUNS, replies)
    // Valid publishes with arbitrary payloads: acknowledged, and then readable from the history.
    const publishes = fc.record({ topic: fc.constantFrom('fz.a', 'fz.b'), event: fc.string({ minLength: 1, maxLength: 64 }), data: fc.jsonValue() })
    await fuzzSocket(ws, '/datalink publish', publishes.map(p => ({ kind: 'valid', data: JSON.stringify({ type: 'publish', ...p }) })), RUNS, replies)
    for (const [kind, [arbitrary, runs]] of Object.entries(genericFrames(64 * 1024))) await fuzzSocket(ws, `/datalink`, arbitrary.map(f => ({ ...f, kind })), runs, replies)
    expect(await ws.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    await ws.close()
    const history = await fuzzer.client.get('/api/topics/fz.a/messages?limit=1000')
    expect(history.status).toBe(200)
  })
})

describe('while fuzzing', () => {
  it('kept delivering every message to the well-behaved subscriber, in order, with no gap', async () => {
    clearInterval(steadyTimer)
    steadyTimer = undefined
    await expect.poll(() => steadyProducer.frames.filter(f => f.type === 'ack' || f.type === 'error').length, { timeout: 10_000 })
      .toBe(steadyProducer.frames.filter(f => f.type !== 'message').length)
    await new Promise(r => setTimeout(r, 200))
    expect(steadyProblems).toEqual([])
    const published = steadyAcks.length
    expect(published).toBeGreaterThan(20)
    const received = await steadyReader.collect(f => f.type === 'message' && f.topic === 'steady.ticks', published, 10_000)
    const offsets = received.map(f => f.offset as number)
    expect(offsets).toEqual(Array.from({ length: published }, (_, i) => i + 1))
    expect(new Set(received.map(f => f.id))).toEqual(new Set(steadyAcks.map(a => a.id)))
    expect(steadyReader.ws.readyState).toBe(steadyReader.ws.OPEN)
    await steadyReader.close()
    await steadyProducer.close()
    counts['steady messages delivered'] = published
  })

  it('never crashed and logged no failed frame', () => {
    expect(server.process.exitCode).toBeNull()
    expect(server.process.signalCode).toBeNull()
    expect(server.output()).not.toMatch(/frame failed|open failed|Unhandled|uncaught/i)
    const total = Object.entries(counts).filter(([k]) => k !== 'steady messages delivered').reduce((sum, [, n]) => sum + n, 0)
    console.log(`fuzz inputs per route and frame type:\n${Object.entries(counts).map(([k, n]) => `  ${k}: ${n}`).join('\n')}\n  total: ${total}\nREST answers by status: ${JSON.stringify(statuses)}`)
  })
})
