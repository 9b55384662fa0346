import Redis from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ADMIN_PASSWORD, createTestDatabase, startServer, type RunningServer, type TestDatabase } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createPushReader, createReader, publisher } from '../helpers/fixtures'
import { TestPushService } from '../helpers/push-service'
import { startRedis } from '../helpers/redis'
import { TestSocket } from '../helpers/ws'

// The database goes away for a while (PostgreSQL refusing and dropping connections): clear 503s,
// the live path keeps working, and everything recovers without a restart.
let db: TestDatabase
let server: RunningServer
let control: pg.Client
let dbName: string
let push: TestPushService

beforeAll(async () => {
  push = new TestPushService()
  await push.start()
  db = await createTestDatabase({ postgres: true })
  // Sources are read again every second: an outage outlasts this instance's copies of them.
  server = await startServer({ db, env: { MERCURY_PUSH_ALLOW_INSECURE: '1', NODE_EXTRA_CA_CERTS: push.certFile, MERCURY_SOURCE_CACHE_SECONDS: '1' } })
  dbName = new URL(db.url).pathname.slice(1)
  const adminUrl = new URL(db.url)
  adminUrl.pathname = '/postgres'
  control = new pg.Client({ connectionString: adminUrl.toString() })
  await control.connect()
})

afterAll(async () => {
  if (process.env.DEBUG_SERVERS) console.log(server?.output().slice(-4000))
  await control?.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`).catch(() => {})
  await control?.end()
  await server?.stop()
  await db?.drop()
  await push?.stop()
})

async function databaseDown() {
  await control.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`)
  await control.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [dbName])
}

async function databaseUp() {
  await control.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`)
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

it('answers 503 while the database is down, keeps live messages flowing, and recovers by itself', async () => {
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'steady', 'steady.*')
  const reader = await createReader(admin, 'reader', 'steady.*')
  const ws = await TestSocket.open(`${server.url}/channel`, { token: reader.token })
  await ws.request({ type: 'subscribe', topic: 'steady.live' })
  expect((await publisher(server.url, source.token).post('/api/topics/steady.live/messages', { data: 'before' })).status).toBe(201)

  await databaseDown()
  const me = await reader.client.get('/api/me')
  expect(me.status).toBe(503)
  expect(me.headers.get('retry-after')).toBe('5')
  expect(me.body).toMatchObject({ statusCode: 503, message: expect.stringMatching(/database is unavailable/) })
  expect((await admin.get('/api/health')).status).toBe(503)
  // A message without a notification needs no database: it is still delivered live.
  expect((await publisher(server.url, source.token).post('/api/topics/steady.live/messages', { data: 'during' })).status).toBe(201)
  // One with a notification must be stored: it is refused clearly, not half-done.
  expect((await publisher(server.url, source.token).post('/api/topics/steady.live/messages', { notification: { title: 'x' } })).status).toBe(503)

  await control.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`)
  await expect.poll(async () => (await admin.get('/api/health')).status, { timeout: 15_000, interval: 250 }).toBe(200)
  expect((await reader.client.get('/api/me')).status).toBe(200)
  expect((await publisher(server.url, source.token).post('/api/topics/steady.live/messages', { data: 'after' })).status).toBe(201)
  const received = await ws.collect(f => f.type === 'message', 3)
  await new Promise(r => setTimeout(r, 200))
  // The refused notification never went out.
  expect(ws.frames.filter(f => f.type === 'message').map(f => f.data)).toEqual(['before', 'during', 'after'])
  expect(received.every(f => f.notification === undefined)).toBe(true)
  expect(server.process.exitCode).toBeNull()
  await ws.close()
})

it('records the outcomes of pushes answered while the database is down once it is back', async () => {
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'pushing', 'pushing.*')
  await createPushReader(admin, push, 'pushreader', 'pushing.*', 'pushing.outage', Array.from({ length: 5 }, (_, i) => `outage-${i}`))
  // Each answer takes 2 s: the pushes are out, and their outcomes come while the database is away.
  push.latencyMs = 2000
  try {
    expect((await publisher(server.url, source.token).post('/api/topics/pushing.outage/messages', { notification: { title: 'During the outage' } })).status).toBe(201)
    await expect.poll(() => push.received.filter(r => r.name.startsWith('outage-')).length, { timeout: 10_000, interval: 50 }).toBe(5)
    await databaseDown()
    await new Promise(resolve => setTimeout(resolve, 8000))
    await control.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`)
    await expect.poll(async () => {
      const res = await admin.get('/api/admin/deliveries?topic=pushing.outage')
      return res.status === 200 ? res.body.items.map((d: { status: string }) => d.status) : res.status
    }, { timeout: 40_000, interval: 500 }).toEqual(['sent', 'sent', 'sent', 'sent', 'sent'])
  }
  finally {
    push.latencyMs = 0
  }
  // Recorded, not sent again.
  expect(push.received.filter(r => r.name.startsWith('outage-'))).toHaveLength(5)
  expect(server.process.exitCode).toBeNull()
}, 70_000)

it('keeps live messages of the sources it knows flowing for as long as the database is down', async () => {
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'lasting', 'lasting.*')
  const unseen = await createActiveSource(admin, 'unseen', 'lasting.*')
  const reader = await createReader(admin, 'lastingreader', 'lasting.*')
  const ws = await TestSocket.open(`${server.url}/channel`, { token: reader.token })
  await ws.request({ type: 'subscribe', topic: 'lasting.live' })
  const producer = await TestSocket.open(`${server.url}/datalink`, { token: source.token })
  expect(await producer.request({ type: 'publish', topic: 'lasting.live', data: 'before' })).toMatchObject({ type: 'ack' })

  await databaseDown()
  try {
    // Well past the second for which this instance trusts its copy of the source each time.
    for (let i = 0; i < 3; i++) {
      await sleep(1500)
      expect((await publisher(server.url, source.token).post('/api/topics/lasting.live/messages', { data: `rest ${i}` })).status).toBe(201)
      expect(await producer.request({ type: 'publish', topic: 'lasting.live', data: `datalink ${i}` })).toMatchObject({ type: 'ack' })
    }
    // Its producers may reconnect.
    const again = await TestSocket.open(`${server.url}/datalink`, { token: source.token })
    expect(await again.request({ type: 'publish', topic: 'lasting.live', data: 'reconnected' })).toMatchObject({ type: 'ack' })
    await again.close()
    // A source this instance has never read cannot be checked: refused until the database is back.
    const refused = await publisher(server.url, unseen.token).post('/api/topics/lasting.live/messages', { data: 'unchecked' })
    expect(refused.status).toBe(503)
    expect(refused.body.message).toMatch(/database is unavailable/)
  }
  finally {
    await databaseUp()
  }
  const received = await ws.collect(f => f.type === 'message', 8)
  expect(received.map(f => f.data)).toEqual(['before', 'rest 0', 'datalink 0', 'rest 1', 'datalink 1', 'rest 2', 'datalink 2', 'reconnected'])
  expect(server.output()).toMatch(/the database is unavailable, sources known to this instance publish on/)
  await expect.poll(async () => (await publisher(server.url, unseen.token).post('/api/topics/lasting.live/messages', { data: 'checked' })).status, { timeout: 15_000, interval: 250 }).toBe(201)
  await Promise.all([ws.close(), producer.close()])
})

it('still forgets a source changed on another instance while the database is down', async () => {
  const redis = await startRedis()
  const scaled = await startServer({ db, env: { REDIS_URL: redis.url, MERCURY_SOURCE_CACHE_SECONDS: '1' } })
  try {
    const admin = new ApiClient(server.url)
    await admin.login('admin', ADMIN_PASSWORD)
    const source = await createActiveSource(admin, 'signalled', 'signalled.*')
    const producer = await TestSocket.open(`${scaled.url}/datalink`, { token: source.token })
    const publish = () => producer.request({ type: 'publish', topic: 'signalled.live', data: 'x' })
    expect(await publish()).toMatchObject({ type: 'ack' })
    await databaseDown()
    try {
      await sleep(1500)
      expect(await publish()).toMatchObject({ type: 'ack' })
      // What an instance that changed the source announces: this one's copy may be wrong now.
      const other = new Redis(redis.url)
      await other.publish('mercury:control', JSON.stringify({ type: 'source.changed', id: source.id }))
      other.disconnect()
      await expect.poll(async () => (await publish()).code).toBe('unavailable')
      expect((await publisher(scaled.url, source.token).post('/api/topics/signalled.live/messages', { data: 'y' })).status).toBe(503)
    }
    finally {
      await databaseUp()
    }
    await expect.poll(async () => (await publish()).type, { timeout: 15_000, interval: 250 }).toBe('ack')
    await producer.close()
  }
  finally {
    await scaled.stop()
    await redis.stop()
  }
})

it('counts the messages published while the database was down once it is back', async () => {
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'counting', 'counting.*')
  const publish = (i: number) => publisher(server.url, source.token).post('/api/topics/counting.outage/messages', { data: i })
  const counts = async () => {
    const [own, topics] = await Promise.all([admin.get(`/api/admin/sources/${source.id}`), admin.get('/api/topics')])
    if (own.status !== 200 || topics.status !== 200) return own.status
    return { source: own.body.messageCount, topic: topics.body.find((t: { name: string }) => t.name === 'counting.outage')?.messageCount }
  }
  for (let i = 0; i < 5; i++) expect((await publish(i)).status).toBe(201)
  await expect.poll(counts).toEqual({ source: 5, topic: 5 })

  await databaseDown()
  try {
    for (let i = 5; i < 10; i++) expect((await publish(i)).status).toBe(201)
    // Counters are written every two seconds: at least one write fails meanwhile.
    await sleep(3000)
  }
  finally {
    await databaseUp()
  }
  await expect.poll(counts, { timeout: 15_000, interval: 250 }).toEqual({ source: 10, topic: 10 })
})

it('refuses WebSocket upgrades while the database is down with a 503, logged once, not a stack trace each', async () => {
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const reader = await createReader(admin, 'upgrader', 'steady.*')
  await databaseDown()
  try {
    for (let i = 0; i < 3; i++) {
      const refused = await TestSocket.open(`${server.url}/channel`, { token: reader.token }).then(() => null, (error: { status: number, body: string, headers: Record<string, string> }) => error)
      expect(refused).toMatchObject({ status: 503, headers: { 'retry-after': '5' } })
      expect(JSON.parse(refused!.body)).toMatchObject({ statusCode: 503, message: expect.stringMatching(/database is unavailable/) })
    }
  }
  finally {
    await databaseUp()
  }
  const log = server.output()
  expect(log).not.toMatch(/WebSocket upgrade failed/)
  expect(log.match(/WebSocket upgrades refused \(503\), the database is unavailable/g)).toHaveLength(1)
  await expect.poll(async () => (await admin.get('/api/health')).status, { timeout: 15_000, interval: 250 }).toBe(200)
})

it('refuses publishes to new topics while the database is down, logged once, not once each', async () => {
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'reserving', 'reserving.*')
  expect((await publisher(server.url, source.token).post('/api/topics/reserving.known/messages', { data: 'before' })).status).toBe(201)
  await databaseDown()
  try {
    // A topic's first publish since the start reserves its offsets in the database (embedded layer).
    for (let i = 0; i < 3; i++) {
      const refused = await publisher(server.url, source.token).post(`/api/topics/reserving.new${i}/messages`, { data: i })
      expect(refused.status).toBe(503)
      expect(refused.body.message).toMatch(/database is unavailable/)
    }
  }
  finally {
    await databaseUp()
  }
  const log = server.output()
  expect(log).not.toMatch(/publish to reserving\.new/)
  expect(log.match(/publish refused, the database is unavailable/g)).toHaveLength(1)
})
