import { afterAll, beforeAll, expect, it } from 'vitest'
import { ADMIN_PASSWORD, createTestDatabase, startServer, type RunningServer, type TestDatabase } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createPushReader, publisher } from '../helpers/fixtures'
import { TestPushService } from '../helpers/push-service'
import { startRedis, type RunningRedis } from '../helpers/redis'
import { TestSocket } from '../helpers/ws'

// One web process and two worker processes share Redis (BullMQ) and the database. One worker is
// killed with SIGKILL in the middle of 2,000 deliveries: none may be lost.
const DEVICES = 100
const NOTIFICATIONS = 20

let redis: RunningRedis
let db: TestDatabase
let push: TestPushService
let web: RunningServer
let workers: RunningServer[] = []
let env: Record<string, string>

beforeAll(async () => {
  redis = await startRedis()
  // Three processes write at once: the scale-out set-up, on PostgreSQL as documented.
  db = await createTestDatabase({ postgres: true })
  push = new TestPushService()
  await push.start()
  push.latencyMs = 5
  env = {
    REDIS_URL: redis.url,
    MERCURY_PUSH_ALLOW_INSECURE: '1',
    NODE_EXTRA_CA_CERTS: push.certFile,
    MERCURY_QUEUE_STALLED_MS: '1000',
    MERCURY_PUSH_CONCURRENCY: '16',
  }
  web = await startServer({ db, env: { ...env, MERCURY_ROLE: 'web' } })
  workers = [
    await startServer({ db, env: { ...env, MERCURY_ROLE: 'worker' } }),
    await startServer({ db, env: { ...env, MERCURY_ROLE: 'worker' } }),
  ]
})

afterAll(async () => {
  if (process.env.DEBUG_SERVERS) for (const s of [web, ...workers]) console.log('=== server', s?.url, s?.output().slice(-3000))
  for (const server of [web, ...workers]) await server?.stop()
  await db?.drop()
  await push?.stop()
  await redis?.stop()
})

it('a worker process serves nothing but its health check', async () => {
  const res = await new ApiClient(workers[0]!.url).post('/api/auth/login', { username: 'admin', password: ADMIN_PASSWORD })
  expect(res.status).toBe(503)
  const publish = await new ApiClient(workers[0]!.url).post('/api/topics/load.x/messages', { data: 1 })
  expect(publish.status).toBe(503)
  expect(publish.body.message).toBe('This is a worker process (MERCURY_ROLE=worker): it serves no requests')
  expect((await new ApiClient(workers[0]!.url).get('/api/health')).status).toBe(200)
  // Nor sockets: a producer or a reader is sent to the web processes.
  const admin = new ApiClient(web.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'not-here', 'nothere.*')
  const userToken = (await new ApiClient(web.url).login('admin', ADMIN_PASSWORD)).body.token
  for (const [path, token] of [['/datalink', source.token], ['/channel', userToken]] as const) {
    const refused = await TestSocket.open(`${workers[0]!.url}${path}`, { token }).then(async (ws) => {
      await ws.close()
      return null
    }, (error: { status: number, body: string }) => error)
    expect(refused, path).toMatchObject({ status: 503 })
    expect(JSON.parse(refused!.body).message).toMatch(/worker process/)
  }
})

it('loses no delivery when a worker is killed in the middle of 2,000', async () => {
  const admin = new ApiClient(web.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'load', 'load.*')
  await createPushReader(admin, push, 'many-devices', 'load.*', 'load.test', Array.from({ length: DEVICES }, (_, i) => `d${i}`))
  const ids: string[] = []
  for (let n = 0; n < NOTIFICATIONS; n++) {
    const res = await publisher(web.url, source.token).post('/api/topics/load.test/messages', { notification: { title: `n${n}` } })
    ids.push(res.body.id)
  }
  const total = DEVICES * NOTIFICATIONS
  await expect.poll(() => push.received.length, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(total / 4)
  workers[0]!.process.kill('SIGKILL')

  await expect.poll(async () => (await admin.get('/api/admin/deliveries?limit=1')).body.counts.sent, { timeout: 60_000, interval: 250 }).toBe(total)
  const { counts } = (await admin.get('/api/admin/deliveries?limit=1')).body
  expect(counts).toEqual({ queued: 0, sent: total, failed: 0, expired: 0 })

  const pairs = new Set(push.received.map(r => `${r.payload?.id}|${r.name}`))
  expect(pairs.size).toBe(total) // every notification reached every device
  expect(push.received.every(r => r.problems.length === 0)).toBe(true)
  expect(new Set(push.received.map(r => r.payload?.id))).toEqual(new Set(ids))
  const duplicates = push.received.length - pairs.size
  // At-least-once: pushes in flight in the killed worker are sent again by the other one.
  console.log(`pipeline-redis: ${total} deliveries, ${push.received.length} pushes received, ${duplicates} duplicates after SIGKILL`)
  expect(duplicates).toBeLessThanOrEqual(16 + 64)
  expect(workers[1]!.process.exitCode).toBeNull()
}, 120_000)

it('a stopped worker finishes its running pushes before it exits', async () => {
  const admin = new ApiClient(web.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'graceful', 'grace.*')
  const reader = await createPushReader(admin, push, 'graceful-reader', 'grace.*', 'grace.test', ['slow'])
  const deviceId = reader.devices[0]!
  push.latencyMs = 1500
  try {
    await publisher(web.url, source.token).post('/api/topics/grace.test/messages', { notification: { title: 'graceful' } })
    await expect.poll(() => push.to('slow').length, { timeout: 10_000, interval: 20 }).toBe(1)
    await workers[1]!.stop() // SIGTERM while the push waits for its answer
    const [delivery] = (await reader.client.get(`/api/devices/${deviceId}/deliveries`)).body
    expect(delivery).toMatchObject({ status: 'sent', attempts: 1, statusCode: 201 })
  }
  finally {
    push.latencyMs = 5
  }
})

it('the last worker stopped records the outcome of every push it finished before it exits', async () => {
  const admin = new ApiClient(web.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'last-worker', 'last.*')
  const reader = await createPushReader(admin, push, 'last-reader', 'last.*', 'last.test', Array.from({ length: 5 }, (_, i) => `last-${i}`))
  const { devices } = reader
  // The two workers were killed and stopped above: one new worker, which will be the last.
  expect(workers.filter(w => w.process.exitCode === null && w.process.signalCode === null)).toHaveLength(0)
  const running = [await startServer({ db, env: { ...env, MERCURY_ROLE: 'worker' } })]
  workers.push(running[0]!)
  push.latencyMs = 1500
  try {
    for (let i = 0; i < 2; i++) await publisher(web.url, source.token).post('/api/topics/last.test/messages', { notification: { title: `last ${i}` } })
    await expect.poll(() => devices.reduce((n, _, i) => n + push.to(`last-${i}`).length, 0), { timeout: 10_000, interval: 20 }).toBeGreaterThan(0)
    await running[0]!.stop() // SIGTERM while pushes wait for their answers
    const received = devices.reduce((n, _, i) => n + push.to(`last-${i}`).length, 0)
    let sent = 0
    for (const id of devices) {
      const deliveries = (await reader.client.get(`/api/devices/${id}/deliveries`)).body as { status: string }[]
      sent += deliveries.filter(d => d.status === 'sent').length
    }
    expect(sent).toBe(received)
  }
  finally {
    push.latencyMs = 5
  }
})
