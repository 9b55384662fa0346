import { readdirSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, startServer, type RunningServer } from '../helpers/server'
import { ApiClient, adminAndUser } from '../helpers/client'
import { createActiveSource, publisher } from '../helpers/fixtures'
import { TestSocket } from '../helpers/ws'

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789'
let server: RunningServer
let admin: ApiClient
let user: ApiClient
let adminToken: string

beforeAll(async () => {
  server = await startServer({ env: { MERCURY_METRICS_TOKEN: METRICS_TOKEN } })
  const pair = await adminAndUser(server.url, ADMIN_PASSWORD)
  admin = pair.admin
  user = pair.user
  adminToken = (await new ApiClient(server.url).login('admin', ADMIN_PASSWORD)).body.token
})

afterAll(async () => {
  await server?.stop()
})

/** Every route under server/api/admin, as [METHOD, path] from its file name, so none is forgotten. */
function adminRoutes(): [string, string][] {
  const base = path.resolve(import.meta.dirname, '../../server/api/admin')
  const files = readdirSync(base, { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.ts'))
  return files.map((file) => {
    const match = /^(.*?)(?:\.(get|post|patch|put|delete))?\.ts$/.exec(file.split(path.sep).join('/'))!
    const route = match[1]!.replace(/(^|\/)index$/, '').replace(/\[\.\.\.[^\]]*\]/g, 'x/y').replace(/\[[^\]]+\]/g, 'some-id')
    return [(match[2] ?? 'get').toUpperCase(), `/api/admin${route ? `/${route}` : ''}`] as [string, string]
  })
}

describe('admin routes', () => {
  const routes = adminRoutes()

  it('finds the admin routes on disk', () => {
    expect(routes.length).toBeGreaterThanOrEqual(20)
    expect(routes).toContainEqual(['POST', '/api/admin/sources/some-id/deactivate'])
    expect(routes).toContainEqual(['GET', '/api/admin/metrics'])
  })

  it.each(routes)('%s %s refuses a plain user with 403 and no one with 401', async (method, route) => {
    const body = method === 'GET' ? undefined : {}
    const asUser = await user.request(method, route, body)
    expect(asUser.status, `${method} ${route}`).toBe(403)
    expect(asUser.body).toMatchObject({ statusCode: 403, message: expect.any(String) })
    const anonymous = await new ApiClient(server.url).request(method, route, body)
    expect(anonymous.status, `${method} ${route}`).toBe(401)
  })
})

describe('size limits', () => {
  it('say plainly what the limit is, as the forms do (not zod\'s own "Too big: expected string to have <=100 characters")', async () => {
    const token = await admin.post('/api/me/tokens', { name: 't'.repeat(101) })
    expect(token.status).toBe(400)
    expect(token.body.message).toContain('name: must be at most 100 characters')
    const group = await admin.post('/api/admin/groups', { name: 'g'.repeat(65) })
    expect(group.status).toBe(400)
    expect(group.body.message).toContain('name: must be at most 64 characters')
  })
})

describe('filters of the admin lists', () => {
  it('refuses a topic that is not a topic name, and an id or topic given empty, with 400 naming the parameter', async () => {
    const refused: [string, string][] = [
      ['/api/admin/deliveries?topic=bad%20topic!!', 'topic: must be 1-128 letters, digits or _ . - (not dots alone)'],
      ['/api/admin/deliveries?topic=', 'topic: must be 1-128 letters'],
      ['/api/admin/deliveries?deviceId=', 'deviceId: must not be empty'],
      ['/api/admin/deliveries?notificationId=', 'notificationId: must not be empty'],
      [`/api/admin/deliveries?deviceId=${'d'.repeat(65)}`, 'deviceId: must be at most 64 characters'],
      ['/api/admin/grants?userId=', 'userId: must not be empty'],
      ['/api/admin/grants?groupId=', 'groupId: must not be empty'],
    ]
    for (const [url, message] of refused) {
      const answer = await admin.get(url)
      expect(answer.status, url).toBe(400)
      expect(answer.body.message, url).toContain(`Invalid query: ${message}`)
    }
    // A well-formed id that names nothing matches nothing, as an unknown :id is 404, not 400.
    const none = await admin.get('/api/admin/deliveries?topic=alerts.disk&deviceId=zzz&notificationId=not-an-id')
    expect(none.status).toBe(200)
    expect(none.body.items).toEqual([])
  })
})

describe('a member or grant named in the query and the body', () => {
  it('takes the same one in both, refuses two different ones with 400, and ignores a body naming none', async () => {
    const alice = (await admin.post('/api/admin/users', { username: 'qb-alice', password: 'qb-alice-password' })).body.id
    const bob = (await admin.post('/api/admin/users', { username: 'qb-bob', password: 'qb-bob-password' })).body.id
    const group = (await admin.post('/api/admin/groups', { name: 'qb-group' })).body.id
    for (const userId of [alice, bob]) expect((await admin.post(`/api/admin/groups/${group}/members`, { userId })).status).toBe(201)
    const members = async () => (await admin.get('/api/admin/groups')).body.find((g: { id: string }) => g.id === group).members.map((m: { id: string }) => m.id).sort()

    const mixed = await admin.delete(`/api/admin/groups/${group}/members?userId=${alice}`, { userId: bob })
    expect(mixed.status).toBe(400)
    expect(mixed.body.message).toMatch(/query and the body name different userId/)
    expect(await members()).toEqual([alice, bob].sort())
    expect((await admin.delete(`/api/admin/groups/${group}/members?userId=${alice}`, { userId: alice })).status).toBe(204)
    expect((await admin.delete(`/api/admin/groups/${group}/members?userId=${bob}`)).status).toBe(204)
    expect(await members()).toEqual([])
    // Many clients send a JSON body with every request: one that does not name the member is no conflict.
    for (const body of [{}, null, { note: 'x' }]) {
      expect((await admin.post(`/api/admin/groups/${group}/members`, { userId: alice })).status).toBe(201)
      expect((await admin.delete(`/api/admin/groups/${group}/members?userId=${alice}`, body)).status).toBe(204)
      expect(await members()).toEqual([])
    }

    const [first, second] = await Promise.all(['qb.a', 'qb.b'].map(async topic => (await admin.post('/api/admin/grants', { userId: alice, topic })).body.id as string))
    const grants = async () => (await admin.get(`/api/admin/grants?userId=${alice}`)).body.map((g: { id: string }) => g.id).sort()
    const wrong = await admin.delete(`/api/admin/grants?id=${first}`, { id: second })
    expect(wrong.status).toBe(400)
    expect(wrong.body.message).toMatch(/query and the body name different id/)
    expect(await grants()).toEqual([first, second].sort())
    expect((await admin.delete(`/api/admin/grants?id=${first}`, { id: first })).status).toBe(204)
    expect((await admin.delete(`/api/admin/grants?id=${second}`, {})).status).toBe(204)
    for (const body of [null, { note: 'x' }]) {
      const grant = (await admin.post('/api/admin/grants', { userId: alice, topic: 'qb.c' })).body.id as string
      expect((await admin.delete(`/api/admin/grants?id=${grant}`, body)).status).toBe(204)
    }
    expect(await grants()).toEqual([])
  })
})

describe('admin events over /channel', () => {
  it('tells every admin view about users, groups, memberships and grants', async () => {
    const ws = await TestSocket.open(`${server.url}/channel`, { token: adminToken })
    const isAdmin = (entity: string, action: string) => (f: Record<string, unknown>) => f.type === 'admin' && f.entity === entity && f.action === action

    const created = await admin.post('/api/admin/users', { username: 'bob', password: 'bob-password-1' })
    expect(await ws.next(isAdmin('user', 'created'))).toMatchObject({ id: created.body.id })
    await admin.patch(`/api/admin/users/${created.body.id}`, { role: 'user' })
    await ws.next(isAdmin('user', 'updated'))

    const group = await admin.post('/api/admin/groups', { name: 'ops' })
    expect(await ws.next(isAdmin('group', 'created'))).toMatchObject({ id: group.body.id })
    await admin.post(`/api/admin/groups/${group.body.id}/members`, { userId: created.body.id })
    expect(await ws.next(isAdmin('group', 'member-added'))).toMatchObject({ id: group.body.id, userId: created.body.id })
    await admin.patch(`/api/admin/groups/${group.body.id}`, { description: 'on call' })
    await ws.next(isAdmin('group', 'updated'))

    const grant = await admin.post('/api/admin/grants', { groupId: group.body.id, topic: 'ops.*', publish: true })
    expect(await ws.next(isAdmin('grant', 'created'))).toMatchObject({ id: grant.body.id, groupId: group.body.id })
    await admin.delete(`/api/admin/grants/${grant.body.id}`)
    await ws.next(isAdmin('grant', 'deleted'))
    await admin.delete(`/api/admin/groups/${group.body.id}/members/${created.body.id}`)
    await ws.next(isAdmin('group', 'member-removed'))
    await admin.delete(`/api/admin/groups/${group.body.id}`)
    await ws.next(isAdmin('group', 'deleted'))
    await admin.delete(`/api/admin/users/${created.body.id}`)
    expect(await ws.next(isAdmin('user', 'deleted'))).toMatchObject({ id: created.body.id })
    await ws.close()
  })

  it('tells an admin\'s socket when the role is taken away, and sends it no admin frame after', async () => {
    const created = await admin.post('/api/admin/users', { username: 'demoted', password: 'demoted-password', role: 'admin' })
    const token = (await new ApiClient(server.url).login('demoted', 'demoted-password')).body.token
    const ws = await TestSocket.open(`${server.url}/channel`, { token })
    await admin.post('/api/admin/groups', { name: 'seen-by-demoted' })
    await ws.next(f => f.type === 'admin' && f.entity === 'group')
    await admin.patch(`/api/admin/users/${created.body.id}`, { role: 'user' })
    expect(await ws.next(f => f.type === 'error')).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/admin access ended/) })
    await admin.post('/api/admin/groups', { name: 'unseen-by-demoted' })
    expect(await ws.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    expect(ws.frames.filter(f => f.type === 'admin' && f.entity === 'group')).toHaveLength(1)
    await ws.close()
  })

  it('pushes live metrics every second to admins only, counting per source and per topic', async () => {
    const source = await createActiveSource(admin, 'metrics-probe', 'probe.*')
    const adminWs = await TestSocket.open(`${server.url}/channel`, { token: adminToken })
    const userToken = (await new ApiClient(server.url).login('alice', 'user-password-1')).body.token
    const userWs = await TestSocket.open(`${server.url}/channel`, { token: userToken })
    const producer = await TestSocket.open(`${server.url}/datalink`, { token: source.token })
    for (let i = 0; i < 5; i++) await producer.request({ type: 'publish', topic: 'probe.one', data: { v: i } })
    await publisher(server.url, source.token).post('/api/topics/probe.two/messages', { data: 1 })

    const frame = await adminWs.next(f => f.type === 'admin' && f.entity === 'metrics' && f.perTopic?.['probe.two'], 3000)
    expect(frame).toMatchObject({
      scope: 'instance',
      producersOnline: 1,
      connections: { channel: 2, datalink: 1 },
      perTopic: { 'probe.one': { perMinute: 5 }, 'probe.two': { perMinute: 1 } },
      perSource: { [source.id]: { perMinute: 6 } },
    })
    expect(frame.messages.perMinute).toBeGreaterThanOrEqual(6)
    await new Promise(r => setTimeout(r, 1200))
    expect(userWs.frames.filter(f => f.type === 'admin')).toEqual([])
    await Promise.all([producer.close(), adminWs.close(), userWs.close()])
  })

  it('names the 200 busiest topics in the metrics frame, not every one of a flood', async () => {
    const source = await createActiveSource(admin, 'flooder', 'flood.*')
    const producer = await TestSocket.open(`${server.url}/datalink`, { token: source.token })
    for (let i = 0; i < 5; i++) await producer.request({ type: 'publish', topic: 'flood.busy', data: i })
    await Promise.all(Array.from({ length: 250 }, (_, i) => producer.request({ type: 'publish', topic: `flood.once${i}`, data: i })))
    const adminWs = await TestSocket.open(`${server.url}/channel`, { token: adminToken })
    const frame = await adminWs.next(f => f.type === 'admin' && f.entity === 'metrics', 3000)
    expect(Object.keys(frame.perTopic)).toHaveLength(200)
    expect(frame.perTopic['flood.busy']).toMatchObject({ perMinute: 5 })
    await Promise.all([producer.close(), adminWs.close()])
  })
})

describe('/metrics', () => {
  it('needs the bearer token, then answers Prometheus text', async () => {
    const anonymous = new ApiClient(server.url)
    expect((await anonymous.get('/metrics')).status).toBe(401)
    expect((await anonymous.get('/metrics', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    expect((await anonymous.get('/metrics', { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(401)
    const ok = await anonymous.get('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = ok.body as string
    expect(text).toMatch(/^mercury_connections\{kind="channel"\} \d+$/m)
    expect(text).toMatch(/^mercury_connections\{kind="datalink"\} \d+$/m)
    expect(text).toMatch(/^mercury_topics \d+$/m)
    expect(text).toMatch(/^mercury_messages_published_total\{origin="source"\} [1-9]\d*$/m)
    expect(text).toMatch(/^mercury_process_cpu_user_seconds_total /m)
    expect(text).toMatch(/^mercury_nodejs_heap_size_used_bytes /m)
    // Sampled every 100 ms (see admin-metrics.ts), still there.
    expect(text).toMatch(/^mercury_nodejs_eventloop_lag_p99_seconds \d/m)
  })

  it('is read only: 405 to any other method, with the token too', async () => {
    const posted = await fetch(`${server.url}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    expect(posted.status).toBe(405)
    expect(posted.headers.get('allow')).toBe('GET, HEAD')
    expect(await posted.json()).toMatchObject({ statusCode: 405 })
  })

  it('is off (404) when no token is configured', async () => {
    const plain = await startServer()
    try {
      const res = await new ApiClient(plain.url).get('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
      expect(res.status).toBe(404)
    }
    finally {
      await plain.stop()
    }
  })
})
