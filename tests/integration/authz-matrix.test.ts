// The authorization matrix: every REST route (found from the files under server/api and
// server/routes, so a route added later without an entry here fails this test) and every frame
// type of /channel and /datalink, called as each kind of caller, with the answer each must get.
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { channelFrameSchema, datalinkFrameSchema } from '#shared/schemas/messages'
import { ADMIN_PASSWORD, runSql, startServer, storedDate, type RunningServer } from '../helpers/server'
import { ApiClient, type ApiResponse } from '../helpers/client'
import { createActiveSource, createReader, publisher } from '../helpers/fixtures'
import { TestPushService } from '../helpers/push-service'
import { TestSocket, type Frame } from '../helpers/ws'

const ROLES = ['anonymous', 'user', 'other', 'admin', 'source'] as const
type Role = typeof ROLES[number]

const root = path.resolve(import.meta.dirname, '../..')
const METRICS_TOKEN = 'metrics-token-for-the-authz-matrix'

/** `GET /api/devices/:id` and the like, from the file names (Nitro's file-based routing). */
function discoverRoutes(dir: string, prefix: string): { rest: string[], sockets: string[] } {
  const rest: string[] = []
  const sockets: string[] = []
  const walk = (folder: string, segments: string[]) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        walk(path.join(folder, entry.name), [...segments, entry.name])
        continue
      }
      if (!entry.name.endsWith('.ts')) continue
      const match = /^(.*?)(?:\.(get|post|put|patch|delete|head|options))?\.ts$/.exec(entry.name)!
      const [, base, method] = match as unknown as [string, string, string | undefined]
      const parts = [...segments, ...(base === 'index' ? [] : [base])]
        .map(s => s.replace(/^\[\.\.\..*\]$/, '**').replace(/^\[(.+)\]$/, ':$1'))
      const route = `${prefix}/${parts.join('/')}`.replace(/\/$/, '') || '/'
      if (method) rest.push(`${method.toUpperCase()} ${route}`)
      else if (prefix === '/api') rest.push(`ANY ${route}`) // the catch-all
      else sockets.push(route) // a handler without a method in server/routes: a WebSocket
    }
  }
  walk(dir, [])
  return { rest, sockets }
}

const api = discoverRoutes(path.join(root, 'server/api'), '/api')
const other = discoverRoutes(path.join(root, 'server/routes'), '')
const DISCOVERED_REST = [...api.rest, ...other.rest].sort()
const DISCOVERED_SOCKETS = [...api.sockets, ...other.sockets].sort()

let server: RunningServer
let push: TestPushService
const clients = {} as Record<Role, ApiClient>
/** Personal access tokens (not login tokens: those end with a password change). */
const tokens = {} as Record<'user' | 'other' | 'admin', string>
const ids = {} as Record<'user' | 'other' | 'admin' | 'carol', string>
const passwords = { user: 'reader-password', other: 'reader-password', admin: ADMIN_PASSWORD }
const usernames = { user: 'alice', other: 'bob', admin: 'admin' }
let source: { id: string, token: string }
/** Alice's: a device, a notification in her inbox, her personal token's id. */
let aliceDevice: string
let aliceNotification: string
let bobNotification: string
let aliceTokenId: string
let counter = 0
const unique = (what: string) => `${what}${++counter}`

// alice (`user`) reads authz.*, subscribed to authz.alice; bob (`other`) reads and publishes
// authz.bob.* only, subscribed to authz.bob.news; carol is a bystander admins act on; the source
// publishes to authz.* only.
beforeAll(async () => {
  push = new TestPushService()
  await push.start()
  server = await startServer({
    env: { MERCURY_PUSH_ALLOW_INSECURE: '1', NODE_EXTRA_CA_CERTS: push.certFile, MERCURY_METRICS_TOKEN: METRICS_TOKEN },
  })
  const admin = new ApiClient(server.url)
  const login = await admin.login('admin', ADMIN_PASSWORD)
  ids.admin = login.body.user.id
  source = await createActiveSource(admin, 'authz', 'authz.*')
  const alice = await createReader(admin, 'alice', 'authz.*')
  const bob = await createReader(admin, 'bob', 'authz.bob.*')
  const carol = await createReader(admin, 'carol', null)
  expect((await admin.post('/api/admin/grants', { userId: bob.id, topic: 'authz.bob.*', read: false, publish: true })).status).toBe(201)
  Object.assign(clients, { anonymous: new ApiClient(server.url), user: alice.client, other: bob.client, admin, source: publisher(server.url, source.token) })
  Object.assign(ids, { user: alice.id, other: bob.id, carol: carol.id })
  for (const role of ['user', 'other', 'admin'] as const) {
    const made = await clients[role].post('/api/me/tokens', { name: 'authz-matrix' })
    expect(made.status).toBe(201)
    tokens[role] = made.body.token
    if (role === 'user') aliceTokenId = made.body.accessToken.id
  }
  expect((await alice.client.post('/api/subscriptions', { topic: 'authz.alice' })).status).toBe(201)
  expect((await bob.client.post('/api/subscriptions', { topic: 'authz.bob.news' })).status).toBe(201)
  aliceDevice = await freshDevice()
  aliceNotification = await freshNotification('authz.alice')
  bobNotification = await freshNotification('authz.bob.news')
})

afterAll(async () => {
  await server?.stop()
  await push?.stop()
})

/** A client with the role's credentials whose cookie changes stay its own. */
function as(role: Role): ApiClient {
  const client = new ApiClient(server.url)
  client.cookie = clients[role].cookie
  client.token = clients[role].token
  return client
}

/** A new session of the role's user (for logout and password change, which end sessions). */
async function freshLogin(role: Role): Promise<ApiClient> {
  if (role === 'anonymous' || role === 'source') return as(role)
  const client = new ApiClient(server.url)
  await client.login(usernames[role], passwords[role])
  return client
}

async function ok<T = any>(res: Promise<ApiResponse<T>>, status: number): Promise<ApiResponse<T>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const answer = await res
  if (answer.status !== status) throw new Error(`fixture: ${answer.status} ${JSON.stringify(answer.body)}`)
  return answer
}

// Fresh resources, one per call, so that a call allowed to delete or change one does not change
// what the next caller sees.
const freshDevice = async () => (await ok(clients.user.post('/api/devices', { subscription: push.subscribe(unique('alice-device-')).subscription }), 201)).body.id as string
const freshToken = async () => (await ok(clients.user.post('/api/me/tokens', { name: unique('t') }), 201)).body.accessToken.id as string
const freshSubscription = async () => (await ok(clients.user.post('/api/subscriptions', { topic: unique('authz.alice.s') }), 201)).body.topic as string
const freshNotification = async (topic: string) =>
  (await ok(clients.source.post(`/api/topics/${topic}/messages`, { notification: { title: unique('note ') } }), 201)).body.id as string
const freshGrant = async () => (await ok(clients.admin.post('/api/admin/grants', { userId: ids.carol, topic: unique('authz.g') }), 201)).body.id as string
const freshGroup = async (withCarol = false) => {
  const id = (await ok(clients.admin.post('/api/admin/groups', { name: unique('group') }), 201)).body.id as string
  if (withCarol) await ok(clients.admin.post(`/api/admin/groups/${id}/members`, { userId: ids.carol }), 201)
  return id
}
const freshSource = async () => (await ok(clients.admin.post('/api/admin/sources', { name: unique('src'), topics: 'authz.*', status: 'active' }), 201)).body.source.id as string
const freshUser = async () => (await ok(clients.admin.post('/api/admin/users', { username: unique('victim'), password: 'victim-password' }), 201)).body.id as string

interface Call {
  params?: Record<string, string>
  body?: unknown
  client?: ApiClient
  /** Whether the resource the call names still exists (checked after the call). */
  exists?: () => Promise<boolean>
}

interface Entry {
  expect: Record<Role, number>
  /** What to send as this role; by default the route with no body and the role's credentials. */
  call?: (role: Role) => Promise<Call> | Call
  /** More checks on the answer; returns a problem (a string), or nothing. */
  check?: (role: Role, res: ApiResponse, call: Call) => unknown
}

const everyone = (status: number) => Object.fromEntries(ROLES.map(r => [r, status])) as Record<Role, number>
const ADMIN = (status: number) => ({ anonymous: 401, user: 403, other: 403, admin: status, source: 401 })
const SIGNED_IN = (status: number) => ({ anonymous: 401, user: status, other: status, admin: status, source: 401 })
/** A resource of alice's: only she gets it; anyone else signed in is told it does not exist. */
const ALICES = (status: number) => ({ anonymous: 401, user: status, other: 404, admin: 404, source: 401 })

const exists = (listPath: string, client: () => ApiClient, key: string, value: string) => async () =>
  ((await client().get(listPath)).body as Record<string, unknown>[]).some(item => item[key] === value)

const has = (list: unknown, key: string, value: unknown) => Array.isArray(list) && list.some(item => (item as Record<string, unknown>)[key] === value)

const MATRIX: Record<string, Entry> = {
  'ANY /api/health': { expect: everyone(200) }, // GET or HEAD (405 to the rest)
  'GET /api/push/public-key': { expect: everyone(200) },
  'ANY /api/**': { expect: everyone(404), call: () => ({ params: { '**': 'no/such/route' } }) },
  'ANY /api': { expect: everyone(404) },
  'GET /metrics': {
    // Its own bearer token (MERCURY_METRICS_TOKEN), not a session: every role is refused.
    expect: everyone(401),
  },
  'POST /api/auth/login': { expect: everyone(200), call: () => ({ body: { username: 'carol', password: 'reader-password' } }) },
  'POST /api/auth/logout': { expect: { ...SIGNED_IN(200), anonymous: 200 }, call: async role => ({ client: await freshLogin(role) }) },

  'GET /api/me': {
    expect: SIGNED_IN(200),
    check: (role, res) => {
      if (res.status === 200 && res.body.user.id !== ids[role as 'user']) return `got the user ${res.body.user.id}`
    },
  },
  'POST /api/me/password': {
    expect: SIGNED_IN(200),
    call: async role => role === 'anonymous' || role === 'source'
      ? { body: { currentPassword: 'reader-password', newPassword: 'reader-password' } }
      : { client: await freshLogin(role), body: { currentPassword: passwords[role], newPassword: passwords[role] } },
    // A new password ends the sessions of earlier logins: the role's client logs in again.
    check: async (role, res) => {
      if (res.status === 200 && role !== 'anonymous' && role !== 'source') await clients[role].login(usernames[role], passwords[role])
    },
  },
  'GET /api/me/tokens': {
    expect: SIGNED_IN(200),
    check: (role, res) => {
      if (role === 'user' && !has(res.body, 'id', aliceTokenId)) return 'alice does not see her token'
      if ((role === 'other' || role === 'admin') && has(res.body, 'id', aliceTokenId)) return 'sees alice\'s token'
    },
  },
  'POST /api/me/tokens': { expect: SIGNED_IN(201), call: () => ({ body: { name: unique('made') } }) },
  'DELETE /api/me/tokens/:id': {
    expect: { ...ALICES(204) },
    call: async () => {
      const id = await freshToken()
      return { params: { id }, exists: exists('/api/me/tokens', () => clients.user, 'id', id) }
    },
  },

  'GET /api/devices': {
    expect: SIGNED_IN(200),
    check: (role, res) => {
      if (role === 'user' && !has(res.body, 'id', aliceDevice)) return 'alice does not see her device'
      if ((role === 'other' || role === 'admin') && has(res.body, 'id', aliceDevice)) return 'sees alice\'s device'
    },
  },
  'POST /api/devices': { expect: SIGNED_IN(201), call: () => ({ body: { subscription: push.subscribe(unique('device-')).subscription } }) },
  'DELETE /api/devices/:id': {
    expect: ALICES(204),
    call: async () => {
      const id = await freshDevice()
      return { params: { id }, exists: exists('/api/devices', () => clients.user, 'id', id) }
    },
  },
  'GET /api/devices/:id/deliveries': {
    expect: ALICES(200),
    call: () => ({ params: { id: aliceDevice } }),
    check: (role, res) => {
      if (res.status !== 200 && JSON.stringify(res.body).includes(aliceNotification)) return 'the refusal names alice\'s notification'
    },
  },

  'GET /api/inbox': {
    expect: SIGNED_IN(200),
    check: (role, res) => {
      const items = res.body?.items
      if (role === 'user' && !(has(items, 'id', aliceNotification) && !has(items, 'id', bobNotification))) return 'alice\'s inbox is wrong'
      if (role === 'other' && !(has(items, 'id', bobNotification) && !has(items, 'id', aliceNotification))) return 'bob\'s inbox is wrong'
      if (role === 'admin' && (has(items, 'id', aliceNotification) || has(items, 'id', bobNotification))) return 'the admin\'s inbox has notifications of others'
    },
  },
  'POST /api/inbox/read': {
    expect: SIGNED_IN(200),
    call: async () => ({ body: { ids: [await freshNotification('authz.alice')] } }),
    check: async (role, res, call) => {
      const id = (call.body as { ids: string[] }).ids[0]
      const inbox = (await clients.user.get('/api/inbox?unread=true')).body.items
      const unread = has(inbox, 'id', id)
      if (role === 'user' && (res.body.updated !== 1 || unread)) return `alice marked ${res.body.updated}, still unread: ${unread}`
      if (role !== 'user' && res.status === 200 && (res.body.updated !== 0 || !unread)) return `marked ${res.body.updated} of alice's notifications read`
    },
  },

  'GET /api/subscriptions': {
    expect: SIGNED_IN(200),
    check: (role, res) => {
      if (role === 'user' && !has(res.body, 'topic', 'authz.alice')) return 'alice does not see her subscription'
      if (role === 'other' && has(res.body, 'topic', 'authz.alice')) return 'bob sees alice\'s subscription'
    },
  },
  'POST /api/subscriptions': {
    // bob may not read authz.alice.*; admins read everything.
    expect: { ...SIGNED_IN(201), other: 403 },
    call: () => ({ body: { topic: unique('authz.alice.new') } }),
  },
  'DELETE /api/subscriptions/:topic': {
    expect: ALICES(204),
    call: async () => {
      const topic = await freshSubscription()
      return { params: { topic }, exists: exists('/api/subscriptions', () => clients.user, 'topic', topic) }
    },
  },

  'GET /api/topics': {
    expect: SIGNED_IN(200),
    check: (role, res) => {
      if (role === 'user' && !has(res.body, 'name', 'authz.alice')) return 'alice does not see her topic'
      if (role === 'other' && (res.body as { name: string }[]).some(t => !t.name.startsWith('authz.bob.'))) return 'bob sees topics he may not read'
    },
  },
  'GET /api/topics/:topic/messages': {
    // History needs a read grant: alice has one, bob has not, admins read everything.
    expect: { ...SIGNED_IN(200), other: 403 },
    call: () => ({ params: { topic: 'authz.alice' } }),
    check: (role, res) => {
      if (res.status === 200 && !res.body.messages.some((m: Frame) => m.id === aliceNotification)) return 'the history misses alice\'s notification'
      if (res.status !== 200 && JSON.stringify(res.body).includes(aliceNotification)) return 'the refusal leaks a message'
    },
  },
  'POST /api/topics/:topic/messages': {
    // The source publishes inside its patterns; a user needs a publish grant (admins too).
    expect: { anonymous: 401, user: 403, other: 403, admin: 403, source: 201 },
    call: () => ({ params: { topic: 'authz.alice' }, body: { event: 'matrix', data: 1 } }),
  },

  'GET /api/admin/deliveries': { expect: ADMIN(200) },
  'GET /api/admin/metrics': { expect: ADMIN(200) },
  'GET /api/admin/grants': { expect: ADMIN(200) },
  'POST /api/admin/grants': { expect: ADMIN(201), call: () => ({ body: { userId: ids.carol, topic: unique('authz.new') } }) },
  'DELETE /api/admin/grants': {
    expect: ADMIN(204),
    call: async () => {
      const id = await freshGrant()
      return { body: { id }, exists: exists('/api/admin/grants', () => clients.admin, 'id', id) }
    },
  },
  'DELETE /api/admin/grants/:id': {
    expect: ADMIN(204),
    call: async () => {
      const id = await freshGrant()
      return { params: { id }, exists: exists('/api/admin/grants', () => clients.admin, 'id', id) }
    },
  },
  'GET /api/admin/groups': { expect: ADMIN(200) },
  'POST /api/admin/groups': { expect: ADMIN(201), call: () => ({ body: { name: unique('new-group') } }) },
  'PATCH /api/admin/groups/:id': { expect: ADMIN(200), call: async () => ({ params: { id: await freshGroup() }, body: { description: 'changed' } }) },
  'DELETE /api/admin/groups/:id': {
    expect: ADMIN(204),
    call: async () => {
      const id = await freshGroup()
      return { params: { id }, exists: exists('/api/admin/groups', () => clients.admin, 'id', id) }
    },
  },
  'POST /api/admin/groups/:id/members': { expect: ADMIN(201), call: async () => ({ params: { id: await freshGroup() }, body: { userId: ids.carol } }) },
  'DELETE /api/admin/groups/:id/members': {
    expect: ADMIN(204),
    call: async () => {
      const id = await freshGroup(true)
      return { params: { id }, body: { userId: ids.carol }, exists: async () => ((await clients.admin.get('/api/admin/groups')).body as { id: string, members: unknown[] }[]).some(g => g.id === id && has(g.members, 'id', ids.carol)) }
    },
  },
  'DELETE /api/admin/groups/:id/members/:userId': {
    expect: ADMIN(204),
    call: async () => {
      const id = await freshGroup(true)
      return { params: { id, userId: ids.carol }, exists: async () => ((await clients.admin.get('/api/admin/groups')).body as { id: string, members: unknown[] }[]).some(g => g.id === id && has(g.members, 'id', ids.carol)) }
    },
  },
  'GET /api/admin/sources': { expect: ADMIN(200) },
  'POST /api/admin/sources': { expect: ADMIN(201), call: () => ({ body: { name: unique('new-source') } }) },
  'GET /api/admin/sources/:id': { expect: ADMIN(200), call: () => ({ params: { id: source.id } }) },
  'PATCH /api/admin/sources/:id': { expect: ADMIN(200), call: async () => ({ params: { id: await freshSource() }, body: { description: 'changed' } }) },
  'DELETE /api/admin/sources/:id': {
    expect: ADMIN(204),
    call: async () => {
      const id = await freshSource()
      return { params: { id }, exists: exists('/api/admin/sources', () => clients.admin, 'id', id) }
    },
  },
  'POST /api/admin/sources/:id/activate': { expect: ADMIN(200), call: async () => ({ params: { id: await freshSource() } }) },
  'POST /api/admin/sources/:id/deactivate': { expect: ADMIN(200), call: async () => ({ params: { id: await freshSource() } }) },
  'POST /api/admin/sources/:id/reactivate': { expect: ADMIN(200), call: async () => ({ params: { id: await freshSource() } }) },
  'POST /api/admin/sources/:id/rotate-token': { expect: ADMIN(200), call: async () => ({ params: { id: await freshSource() } }) },
  'GET /api/admin/users': { expect: ADMIN(200) },
  'POST /api/admin/users': { expect: ADMIN(201), call: () => ({ body: { username: unique('new-user'), password: 'new-user-password' } }) },
  'GET /api/admin/users/:id': { expect: ADMIN(200), call: () => ({ params: { id: ids.user } }) },
  'PATCH /api/admin/users/:id': { expect: ADMIN(200), call: () => ({ params: { id: ids.carol }, body: { role: 'user' } }) },
  'DELETE /api/admin/users/:id': {
    expect: ADMIN(204),
    call: async () => {
      const id = await freshUser()
      return { params: { id }, exists: async () => (await clients.admin.get(`/api/admin/users/${id}`)).status === 200 }
    },
  },
}

function fill(route: string, params: Record<string, string> = {}): string {
  return route.replace(/:(\w+)|\*\*/g, (whole, name: string | undefined) => {
    const value = params[name ?? whole]
    if (value === undefined) throw new Error(`no value for ${whole} in ${route}`)
    return name ? encodeURIComponent(value) : value
  })
}

const figures = { restChecks: 0, frameChecks: 0 }

describe('authorization matrix: REST', () => {
  it('has an entry for every route, and no entry for a route that is gone', () => {
    expect(DISCOVERED_REST.length).toBeGreaterThan(40)
    expect(Object.keys(MATRIX).sort()).toEqual(DISCOVERED_REST)
  })

  it('answers every route as expected for every role', async () => {
    const problems: string[] = []
    for (const key of DISCOVERED_REST) {
      const entry = MATRIX[key]
      if (!entry) continue // reported by the test above
      const [method, route] = key.split(' ') as [string, string]
      for (const role of ROLES) {
        const call = await entry.call?.(role) ?? {}
        const client = call.client ?? as(role)
        const res = await client.request(method === 'ANY' ? 'GET' : method, fill(route, call.params), call.body)
        figures.restChecks++
        const want = entry.expect[role]
        const where = `${key} as ${role}`
        if (res.status !== want) {
          problems.push(`${where}: ${res.status} (want ${want}) ${JSON.stringify(res.body).slice(0, 160)}`)
          continue
        }
        if (res.status >= 500) problems.push(`${where}: a server error`)
        if (call.exists) {
          const still = await call.exists()
          if (res.status < 300 && still) problems.push(`${where}: answered ${res.status} but the resource is still there`)
          if (res.status >= 400 && !still) problems.push(`${where}: refused with ${res.status} but the resource is gone`)
        }
        const problem = await entry.check?.(role, res, call)
        if (typeof problem === 'string') problems.push(`${where}: ${problem}`)
      }
    }
    console.log(`authz matrix: ${DISCOVERED_REST.length} REST routes x ${ROLES.length} roles = ${figures.restChecks} calls checked`)
    expect(problems).toEqual([])
  })

  it('keeps the other checks of publishing: patterns, grants, source status', async () => {
    const pub = (client: ApiClient, topic: string) => client.post(`/api/topics/${topic}/messages`, { data: 'x' })
    expect((await pub(as('source'), 'outside.authz')).status).toBe(403)
    expect((await pub(as('other'), 'authz.bob.pub')).status).toBe(201) // bob's publish grant
    expect((await pub(as('user'), 'authz.bob.pub')).status).toBe(403) // alice reads it, may not publish
    const bobToken = new ApiClient(server.url)
    bobToken.token = tokens.other
    expect((await pub(bobToken, 'authz.bob.pub')).status).toBe(201)
    expect((await pub(bobToken, 'authz.alice')).status).toBe(403)
    const draft = await ok(clients.admin.post('/api/admin/sources', { name: 'authz-draft', topics: 'authz.*' }), 201)
    expect((await pub(publisher(server.url, draft.body.token), 'authz.alice')).status).toBe(403)
    const bogus = publisher(server.url, `msrc_${'x'.repeat(43)}`)
    expect((await pub(bogus, 'authz.alice')).status).toBe(401)
    // A source token is no user credential anywhere else.
    expect((await as('source').get('/api/inbox')).status).toBe(401)
    // A metrics token opens /metrics and nothing else.
    const metrics = new ApiClient(server.url)
    metrics.token = METRICS_TOKEN
    expect((await metrics.get('/metrics')).status).toBe(200)
    expect((await metrics.get('/api/admin/metrics')).status).toBe(401)
  })
})

describe('sessions', () => {
  it('ends a session cookie, every copy of it, with its logout, a new password or the user\'s deletion', async () => {
    const copyOf = (client: ApiClient) => Object.assign(new ApiClient(server.url), { cookie: client.cookie })
    const openChannel = (client: ApiClient) => TestSocket.open(`${server.url}/channel`, { headers: { cookie: client.cookie } })
      .then(async ws => (await ws.close(), 'open'), (error: { status?: number }) => error.status)
    await ok(clients.admin.post('/api/admin/users', { username: 'dave', password: 'dave-password' }), 201)

    // Logout: the copy kept by someone else stops working too, on REST and /channel.
    const session = new ApiClient(server.url)
    await session.login('dave', 'dave-password')
    const stolen = copyOf(session)
    expect((await stolen.get('/api/me')).status).toBe(200)
    expect(await openChannel(stolen)).toBe('open')
    expect((await session.post('/api/auth/logout')).status).toBe(200)
    expect((await stolen.get('/api/me')).status).toBe(401)
    expect(await openChannel(stolen)).toBe(401)

    // A new password ends the other sessions, not the one that changed it.
    const laptop = new ApiClient(server.url)
    await laptop.login('dave', 'dave-password')
    const phone = new ApiClient(server.url)
    await phone.login('dave', 'dave-password')
    expect((await laptop.post('/api/me/password', { currentPassword: 'dave-password', newPassword: 'dave-new-password' })).status).toBe(200)
    expect((await laptop.get('/api/me')).status).toBe(200)
    expect((await phone.get('/api/me')).status).toBe(401)

    // So does a password set by an admin, and the user's deletion.
    const dave = (await laptop.get('/api/me')).body.user.id
    expect((await clients.admin.patch(`/api/admin/users/${dave}`, { password: 'dave-third-password' })).status).toBe(200)
    expect((await laptop.get('/api/me')).status).toBe(401)
    const last = new ApiClient(server.url)
    await last.login('dave', 'dave-third-password')
    expect((await clients.admin.delete(`/api/admin/users/${dave}`)).status).toBe(204)
    expect((await last.get('/api/me')).status).toBe(401)
  })

  it('refuses a login left unused for longer than MERCURY_SESSION_DAYS (30) as a cookie, as a bearer token and on /channel; a personal token never lapses', async () => {
    const channelWith = (options: { token?: string, cookie?: string }) => TestSocket.open(`${server.url}/channel`, { token: options.token, headers: options.cookie ? { cookie: options.cookie } : {} })
      .then(async ws => (await ws.close(), 'open'), (error: { status?: number }) => error.status)
    await ok(clients.admin.post('/api/admin/users', { username: 'erin', password: 'erin-password' }), 201)
    // Nothing is sent with these logins before they are aged: a use would write lastUsedAt.
    const login = async () => {
      const client = new ApiClient(server.url)
      const { token, user } = (await client.login('erin', 'erin-password')).body
      const [row] = await runSql<{ id: string }>(server.db, 'SELECT "id" FROM "AccessToken" WHERE "userId" = $1 AND "name" = $2 ORDER BY "createdAt" DESC LIMIT 1', [user.id, 'login'])
      return { cookie: client.cookie, token: token as string, tokenId: row!.id, client }
    }
    const unused = await login()
    const recent = await login()
    const script = await ok((await login()).client.post('/api/me/tokens', { name: 'script' }), 201)
    const age = (tokenId: string, days: number) => {
      const at = storedDate(server.db, new Date(Date.now() - days * 24 * 60 * 60_000))
      return runSql(server.db, 'UPDATE "AccessToken" SET "createdAt" = $1, "lastUsedAt" = $2 WHERE "id" = $3', [at, at, tokenId])
    }
    await age(unused.tokenId, 31)
    await age(recent.tokenId, 29)
    await age(script.body.accessToken.id, 365)

    const byCookie = Object.assign(new ApiClient(server.url), { cookie: unused.cookie })
    const byToken = Object.assign(new ApiClient(server.url), { token: unused.token })
    expect((await byCookie.get('/api/me')).status).toBe(401)
    const refused = await byToken.get('/api/me')
    expect(refused.status).toBe(401)
    expect(refused.body.message).toBe('Invalid or revoked token')
    expect(await channelWith({ cookie: unused.cookie })).toBe(401)
    expect(await channelWith({ token: unused.token })).toBe(401)
    // The app's view of its session says it ended too.
    expect((await byCookie.get('/api/_auth/session')).body).toEqual({})

    const alive: { cookie?: string, token?: string }[] = [{ cookie: recent.cookie }, { token: recent.token }, { token: script.body.token }]
    for (const live of alive) {
      expect((await Object.assign(new ApiClient(server.url), live).get('/api/me')).status).toBe(200)
      expect(await channelWith(live)).toBe('open')
    }
  })
})

// Frames: the types come from the schemas, so a new frame type needs an entry here.
const typesOf = (schema: { options: readonly { shape: { type: { values: Set<unknown> } } }[] }) =>
  schema.options.flatMap(o => [...o.shape.type.values] as string[]).sort()

type SocketRole = 'user' | 'other' | 'admin' | 'source'
/** What opening the socket answers for each role: 'open' or the refused upgrade's status. */
const UPGRADES: Record<string, Record<Role, number | 'open'>> = {
  '/channel': { anonymous: 401, user: 'open', other: 'open', admin: 'open', source: 401 },
  '/datalink': { anonymous: 401, user: 401, other: 401, admin: 401, source: 'open' },
}
/** Per socket, per frame type: the frame to send and the answer each role that may connect gets. */
const FRAMES: Record<string, Record<string, { frame: Frame, expect: Partial<Record<SocketRole, string>> }[]>> = {
  '/channel': {
    subscribe: [{ frame: { type: 'subscribe', topic: 'authz.alice' }, expect: { user: 'subscribed', other: 'error:forbidden', admin: 'subscribed' } }],
    unsubscribe: [{ frame: { type: 'unsubscribe', topic: 'authz.alice' }, expect: { user: 'unsubscribed', other: 'unsubscribed', admin: 'unsubscribed' } }],
    ping: [{ frame: { type: 'ping' }, expect: { user: 'pong', other: 'pong', admin: 'pong' } }],
  },
  '/datalink': {
    publish: [
      { frame: { type: 'publish', topic: 'authz.alice', data: 1 }, expect: { source: 'ack' } },
      { frame: { type: 'publish', topic: 'outside.authz', data: 1 }, expect: { source: 'error:forbidden' } },
    ],
    ping: [{ frame: { type: 'ping' }, expect: { source: 'pong' } }],
  },
}

function credentials(role: Role): string | undefined {
  if (role === 'anonymous') return undefined
  if (role === 'source') return source.token
  return tokens[role]
}

describe('authorization matrix: WebSockets', () => {
  it('has an entry for every socket and every frame type', () => {
    expect(DISCOVERED_SOCKETS).toEqual(Object.keys(UPGRADES).sort())
    expect(Object.keys(FRAMES['/channel']!).sort()).toEqual(typesOf(channelFrameSchema as never))
    expect(Object.keys(FRAMES['/datalink']!).sort()).toEqual(typesOf(datalinkFrameSchema as never))
  })

  it('opens or refuses each socket for each role, and answers each frame type as expected', async () => {
    const problems: string[] = []
    for (const [socketPath, byRole] of Object.entries(UPGRADES)) {
      for (const role of ROLES) {
        let ws: TestSocket | undefined
        let outcome: number | 'open'
        try {
          ws = await TestSocket.open(`${server.url}${socketPath}`, { token: credentials(role) })
          outcome = 'open'
        }
        catch (error) {
          outcome = (error as { status?: number }).status ?? -1
        }
        figures.frameChecks++
        if (outcome !== byRole[role]) problems.push(`${socketPath} as ${role}: ${outcome} (want ${byRole[role]})`)
        if (!ws) continue
        for (const [type, cases] of Object.entries(FRAMES[socketPath]!)) {
          for (const { frame, expect: want } of cases) {
            const expected = want[role as SocketRole]
            if (!expected) {
              problems.push(`${socketPath} ${type} as ${role}: no expectation`)
              continue
            }
            const answer = await ws.request(frame).catch((error: Error): Frame => ({ type: `none (${error.message})` }))
            figures.frameChecks++
            const got = answer.type === 'error' ? `error:${answer.code}` : answer.type
            if (got !== expected) problems.push(`${socketPath} ${JSON.stringify(frame)} as ${role}: ${got} (want ${expected})`)
          }
        }
        await ws.close()
      }
    }
    // A session cookie opens /channel as well, never /datalink.
    const cookieChannel = await TestSocket.open(`${server.url}/channel`, { headers: { cookie: clients.user.cookie } })
    await cookieChannel.close()
    await expect(TestSocket.open(`${server.url}/datalink`, { headers: { cookie: clients.admin.cookie } })).rejects.toMatchObject({ status: 401 })
    figures.frameChecks += 2
    console.log(`authz matrix: ${Object.keys(UPGRADES).length} sockets x ${ROLES.length} roles upgrades and their frame types: ${figures.frameChecks} checks`)
    expect(problems).toEqual([])
  })

  it('delivers a topic live only to the users who may read it', async () => {
    const alice = await TestSocket.open(`${server.url}/channel`, { token: tokens.user })
    const bob = await TestSocket.open(`${server.url}/channel`, { token: tokens.other })
    expect(await alice.request({ type: 'subscribe', topic: 'authz.live' })).toMatchObject({ type: 'subscribed' })
    expect(await bob.request({ type: 'subscribe', topic: 'authz.live' })).toMatchObject({ type: 'error', code: 'forbidden' })
    expect(await bob.request({ type: 'subscribe', topic: 'authz.live', since: 0 })).toMatchObject({ type: 'error', code: 'forbidden' })
    const producer = await TestSocket.open(`${server.url}/datalink`, { token: source.token })
    const ack = await producer.request({ type: 'publish', topic: 'authz.live', data: 'secret' })
    expect(ack.type).toBe('ack')
    expect(await alice.next(f => f.type === 'message')).toMatchObject({ id: ack.id })
    expect(await bob.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    expect(bob.frames.some(f => f.type === 'message')).toBe(false)
    await Promise.all([alice.close(), bob.close(), producer.close()])
  })
})

afterAll(() => {
  console.log(`authz matrix figures: ${JSON.stringify(figures)}`)
})
