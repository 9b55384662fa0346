import Redis from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, createTestDatabase, runSql, startServer, storedDate, type RunningServer, type TestDatabase } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createReader, publisher } from '../helpers/fixtures'
import { startRedis, type RunningRedis } from '../helpers/redis'
import { TestSocket } from '../helpers/ws'

// Two server processes on two ports share one Redis and one database: they must behave as one.
let redis: RunningRedis
let db: TestDatabase
let a: RunningServer
let b: RunningServer
let admin: ApiClient
let source: { id: string, token: string }
let reader: { client: ApiClient, token: string, id: string }

beforeAll(async () => {
  redis = await startRedis()
  db = await createTestDatabase()
  const env = { REDIS_URL: redis.url }
  a = await startServer({ db, env })
  b = await startServer({ db, env })
  admin = new ApiClient(a.url)
  await admin.login('admin', ADMIN_PASSWORD)
  source = await createActiveSource(admin, 'scaled', 'scale.*')
  reader = await createReader(admin, 'reader', 'scale.*')
})

afterAll(async () => {
  await a?.stop()
  await b?.stop()
  await db?.drop()
  await redis?.stop()
})

const channel = (server: RunningServer) => TestSocket.open(`${server.url}/channel`, { token: reader.token })

describe('two instances on one Redis', () => {
  it('delivers a message published on one to subscribers on both', async () => {
    const onA = await channel(a)
    const onB = await channel(b)
    await onA.request({ type: 'subscribe', topic: 'scale.one' })
    await onB.request({ type: 'subscribe', topic: 'scale.one' })
    const res = await publisher(a.url, source.token).post('/api/topics/scale.one/messages', { data: 'from A' })
    expect(res.status).toBe(201)
    const producer = await TestSocket.open(`${b.url}/datalink`, { token: source.token })
    expect((await producer.request({ type: 'publish', topic: 'scale.one', data: 'from B' })).offset).toBe(res.body.offset + 1)
    for (const ws of [onA, onB]) {
      const got = await ws.collect(f => f.type === 'message', 2)
      expect(got.map(f => [f.offset, f.data])).toEqual([[res.body.offset, 'from A'], [res.body.offset + 1, 'from B']])
    }
    await Promise.all([onA.close(), onB.close(), producer.close()])
  })

  it('subscribes each instance to Redis once per topic, however many clients follow it', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => channel(i % 2 ? a : b)))
    await Promise.all(clients.map(ws => ws.request({ type: 'subscribe', topic: 'scale.many' })))
    const probe = new Redis(redis.url)
    const numsub = await probe.pubsub('NUMSUB', 'mercury:topic:scale.many') as [string, number]
    expect(Number(numsub[1])).toBe(2)
    await publisher(a.url, source.token).post('/api/topics/scale.many/messages', { data: 'all' })
    await Promise.all(clients.map(ws => ws.next(f => f.type === 'message')))
    await Promise.all(clients.map(ws => ws.close()))
    await expect.poll(async () => Number((await probe.pubsub('NUMSUB', 'mercury:topic:scale.many') as [string, number])[1])).toBe(0)
    probe.disconnect()
  })

  it('recovers across instances: drop from one, resume on the other by offset', async () => {
    const topic = 'scale.recover'
    const first = await channel(a)
    await first.request({ type: 'subscribe', topic })
    const producer = await TestSocket.open(`${a.url}/datalink`, { token: source.token })
    for (let i = 1; i <= 50; i++) await producer.request({ type: 'publish', topic, data: i })
    await first.collect(f => f.type === 'message', 50)
    first.ws.terminate()
    for (let i = 51; i <= 120; i++) await producer.request({ type: 'publish', topic, data: i })
    const second = await channel(b)
    const subscribed = await second.request({ type: 'subscribe', topic, since: 50 })
    expect(subscribed).toMatchObject({ recovered: true, offset: 120 })
    const missed = await second.collect(f => f.type === 'message', 70)
    expect(missed.map(f => f.data)).toEqual(Array.from({ length: 70 }, (_, i) => 51 + i))
    await Promise.all([second.close(), producer.close()])
  })

  it('applies admin changes made on one instance to producers on the other', async () => {
    const own = await createActiveSource(admin, 'remote', 'scale.*')
    const producer = await TestSocket.open(`${b.url}/datalink`, { token: own.token })
    expect((await producer.request({ type: 'publish', topic: 'scale.x', data: 1 })).type).toBe('ack')
    await admin.post(`/api/admin/sources/${own.id}/deactivate`)
    expect((await producer.closed).code).toBe(4001)
    expect((await publisher(b.url, own.token).post('/api/topics/scale.x/messages', { data: 2 })).status).toBe(403)
    await admin.post(`/api/admin/sources/${own.id}/reactivate`)
    expect((await publisher(b.url, own.token).post('/api/topics/scale.x/messages', { data: 3 })).status).toBe(201)
  })

  it('syncs read state to the user\'s devices on the other instance', async () => {
    await reader.client.post('/api/subscriptions', { topic: 'scale.note' })
    const res = await publisher(a.url, source.token).post('/api/topics/scale.note/messages', { notification: { title: 'hello' } })
    const device = await channel(b)
    await device.request({ type: 'ping' }) // registered on B before the read happens
    const onA = new ApiClient(a.url)
    onA.token = reader.token
    await onA.post('/api/inbox/read', { ids: [res.body.id] })
    expect(await device.next(f => f.type === 'read')).toMatchObject({ ids: [res.body.id] })
    await device.close()
  })

  it('counts failed logins across instances: spreading attempts over them gains nothing', async () => {
    const attempt = (server: RunningServer) => new ApiClient(server.url).post('/api/auth/login', { username: 'spread-target', password: 'a-wrong-password' })
    // MERCURY_LOGIN_MAX_FAILURES is 10: five wrong passwords on each instance reach it together.
    for (let i = 0; i < 10; i++) expect((await attempt(i % 2 ? a : b)).status).toBe(401)
    for (const server of [a, b]) {
      const blocked = await attempt(server)
      expect(blocked.status).toBe(429)
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
    }
  })

  it('ends the logins unused for MERCURY_SESSION_DAYS in the sweep of any process, closing their sockets on every instance; personal tokens stay', async () => {
    expect((await admin.post('/api/admin/users', { username: 'sweeper', password: 'sweeper-password' })).status).toBe(201)
    const login = async () => {
      const client = new ApiClient(a.url)
      const { token, user } = (await client.login('sweeper', 'sweeper-password')).body
      const [row] = await runSql<{ id: string }>(db, 'SELECT "id" FROM "AccessToken" WHERE "userId" = $1 AND "name" = $2 ORDER BY "createdAt" DESC LIMIT 1', [user.id, 'login'])
      return { client, token: token as string, tokenId: row!.id }
    }
    const lastUsed = (tokenId: string, ago: number) =>
      runSql(db, 'UPDATE "AccessToken" SET "lastUsedAt" = $1 WHERE "id" = $2', [storedDate(db, new Date(Date.now() - ago)), tokenId])
    const unused = await login()
    const recent = await login()
    const personal = (await recent.client.post('/api/me/tokens', { name: 'sweeper-script' })).body
    // Used within the minute: opening the sockets writes no lastUsedAt that would undo the ageing.
    for (const tokenId of [unused.tokenId, recent.tokenId, personal.accessToken.id]) await lastUsed(tokenId, 10_000)
    const lapsing = await Promise.all([a, b].map(server => TestSocket.open(`${server.url}/channel`, { headers: { cookie: unused.client.cookie } })))
    const staying = await Promise.all([
      TestSocket.open(`${b.url}/channel`, { headers: { cookie: recent.client.cookie } }),
      TestSocket.open(`${a.url}/channel`, { token: personal.token }),
    ])
    const day = 24 * 60 * 60_000
    await lastUsed(unused.tokenId, 31 * day)
    await lastUsed(recent.tokenId, 29 * day)
    await lastUsed(personal.accessToken.id, 365 * day)

    // A worker process sweeps as it starts (A and B, every minute).
    const worker = await startServer({ db, env: { REDIS_URL: redis.url, MERCURY_ROLE: 'worker' } })
    try {
      const closeCode = (ws: TestSocket) => Promise.race([ws.closed.then(closed => closed.code), new Promise(resolve => setTimeout(resolve, 10_000, 'still open'))])
      for (const ws of lapsing) expect(await closeCode(ws)).toBe(4001)
      const left = await runSql<{ id: string }>(db, 'SELECT "id" FROM "AccessToken" WHERE "id" IN ($1, $2, $3)', [unused.tokenId, recent.tokenId, personal.accessToken.id])
      expect(left.map(row => row.id).sort()).toEqual([recent.tokenId, personal.accessToken.id].sort())
      for (const ws of staying) expect(await ws.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    }
    finally {
      await worker.stop()
      await Promise.all(staying.map(ws => ws.close()))
    }
  })

  it('keeps serving through a Redis restart: clear 503s during the outage, live again after', async () => {
    const topic = 'scale.outage'
    const ws = await channel(b)
    await ws.request({ type: 'subscribe', topic })
    for (let i = 0; i < 3; i++) await publisher(a.url, source.token).post(`/api/topics/${topic}/messages`, { data: i })
    await ws.collect(f => f.type === 'message', 3)
    expect((await new ApiClient(a.url).get('/api/health')).body).toMatchObject({ status: 'ok', database: 'up', channelLayer: 'up' })
    const logBefore = a.output().length
    await redis.stop()
    const during = await publisher(a.url, source.token).post(`/api/topics/${topic}/messages`, { data: 'lost?' })
    expect(during.status).toBe(503)
    expect(during.body.message).toMatch(/unavailable/)
    // A /channel opened now is refused like any connection the server cannot take, not opened
    // and dropped; the admin figures answer at once and say the layer is down.
    await expect(channel(a)).rejects.toMatchObject({ status: 503, body: expect.stringContaining('channel layer is unavailable'), headers: expect.objectContaining({ 'retry-after': '5' }) })
    // Reading history, and subscribing on a connection already open, get the same clear answer.
    const history = await reader.client.get(`/api/topics/${topic}/messages?since=1`)
    expect(history.status).toBe(503)
    expect(history.body.message).toMatch(/channel layer is unavailable/)
    expect(history.headers.get('retry-after')).toBe('5')
    ws.send({ type: 'subscribe', topic: 'scale.during', since: 0, ref: 'during' })
    expect(await ws.next(f => f.ref === 'during', 3000)).toMatchObject({ type: 'error', code: 'unavailable', ref: 'during' })
    const started = Date.now()
    const metrics = await admin.get('/api/admin/metrics')
    expect(Date.now() - started).toBeLessThan(3000)
    expect(metrics.body).toMatchObject({ layer: { healthy: false }, queues: null })
    // Reported, not judged: the database answers, so a load balancer keeps the instance.
    const health = await new ApiClient(a.url).get('/api/health')
    expect(health.status).toBe(200)
    expect(health.body).toMatchObject({ status: 'ok', database: 'up', channelLayer: 'down' })
    await new Promise(resolve => setTimeout(resolve, 3000))
    await redis.restart()
    await expect.poll(async () => (await publisher(a.url, source.token).post(`/api/topics/${topic}/messages`, { data: 'back' })).status,
      { timeout: 15_000, interval: 250 }).toBe(201)
    const message = await ws.next(f => f.type === 'message' && f.data === 'back', 15_000)
    expect(message.topic).toBe(topic)
    // Redis came back empty: the stream restarted, and the client was told so before the new message.
    const reset = ws.frames.findIndex(f => f.type === 'subscribed' && f.recovered === false)
    expect(reset).toBeGreaterThan(0)
    expect(reset).toBeLessThan(ws.frames.indexOf(message))
    expect(a.process.exitCode).toBeNull()
    expect(b.process.exitCode).toBeNull()
    // Each queue and worker said once that Redis was away, not at every reconnection attempt.
    const queueLines = a.output().slice(logBefore).split('\n').filter(line => /mercury: (queue|worker) /.test(line))
    const perName = new Map<string, number>()
    for (const line of queueLines) {
      const name = /mercury: ((queue|worker) \w+)/.exec(line)![1]!
      perName.set(name, (perName.get(name) ?? 0) + 1)
    }
    for (const [name, count] of perName) expect(count, name).toBe(1)
    await ws.close()
  })

  it('applies changes made while Redis was away to open sockets: at once where made, on the others once it is back', async () => {
    const user = await createReader(admin, 'outage-reader', 'scale.ctl.*')
    const [grant] = (await admin.get(`/api/admin/grants?userId=${user.id}`)).body as { id: string }[]
    const onA = await TestSocket.open(`${a.url}/channel`, { token: user.token })
    const onB = await TestSocket.open(`${b.url}/channel`, { token: user.token })
    for (const ws of [onA, onB]) expect(await ws.request({ type: 'subscribe', topic: 'scale.ctl.x' })).toMatchObject({ type: 'subscribed' })
    const leaver = await createReader(admin, 'outage-leaver', 'scale.*')
    const leaving = await TestSocket.open(`${b.url}/channel`, { token: leaver.token })
    // Read access given back while Redis is away: the stored subscription it opens is joined on
    // every instance (a stored subscription stays when its access goes).
    const joiner = await createReader(admin, 'outage-joiner', null)
    const first = await admin.post('/api/admin/grants', { userId: joiner.id, topic: 'scale.ctl.joined', read: true })
    expect((await joiner.client.post('/api/subscriptions', { topic: 'scale.ctl.joined' })).status).toBe(201)
    expect((await admin.delete(`/api/admin/grants/${first.body.id}`)).status).toBe(204)
    const joinerOn = await Promise.all([a, b].map(server => TestSocket.open(`${server.url}/channel`, { token: joiner.token })))
    const producerSource = await createActiveSource(admin, 'outage-producer', 'scale.*')
    const producer = await TestSocket.open(`${b.url}/datalink`, { token: producerSource.token })
    expect(await producer.request({ type: 'publish', topic: 'scale.ctl.y', data: 1 })).toMatchObject({ type: 'ack' })
    await redis.stop()
    expect((await admin.post(`/api/admin/sources/${producerSource.id}/deactivate`)).status).toBe(200)
    // Made on A while Redis is down: the grant goes, a session ends.
    expect((await admin.delete(`/api/admin/grants/${grant!.id}`)).status).toBe(204)
    expect((await leaver.client.post('/api/auth/logout', {})).status).toBe(200)
    expect((await admin.post('/api/admin/grants', { userId: joiner.id, topic: 'scale.ctl.joined', read: true })).status).toBe(201)
    // Long enough for the joins tried meanwhile to give up (they are tried again later).
    await new Promise(resolve => setTimeout(resolve, 3000))
    expect(await onA.next(f => f.type === 'unsubscribed' && f.topic === 'scale.ctl.x', 5000)).toBeTruthy()
    await redis.restart()
    expect(await onB.next(f => f.type === 'unsubscribed' && f.topic === 'scale.ctl.x', 20_000)).toBeTruthy()
    expect((await leaving.closed).code).toBe(4001)
    expect((await producer.closed).code).toBe(4001)
    for (const ws of joinerOn) expect(await ws.next(f => f.type === 'subscribed' && f.topic === 'scale.ctl.joined', 20_000)).toBeTruthy()
    await expect.poll(async () => (await publisher(a.url, source.token).post('/api/topics/scale.ctl.joined/messages', { data: 'in' })).status, { timeout: 10_000 }).toBe(201)
    for (const ws of joinerOn) expect(await ws.next(f => f.type === 'message' && f.topic === 'scale.ctl.joined', 10_000)).toBeTruthy()
    await Promise.all(joinerOn.map(ws => ws.close()))
    const refused = await publisher(b.url, producerSource.token).post('/api/topics/scale.ctl.y/messages', { data: 2 })
    expect(refused.status).toBe(403)
    await Promise.all([onA.close(), onB.close()])
  })
})
