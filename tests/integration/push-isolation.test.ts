// A push service that hangs holds up no push to another push service: each may have at most
// MERCURY_PUSH_SERVICE_CONCURRENCY of the MERCURY_PUSH_CONCURRENCY pushes in flight, with the
// in-process queue and with BullMQ alike.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, startServer, type RunningServer } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createPushReader, publisher } from '../helpers/fixtures'
import { TestPushService } from '../helpers/push-service'
import { startRedis, type RunningRedis } from '../helpers/redis'

const TIMEOUT_MS = 3000
const STUCK_DEVICES = 6

describe.each([['the in-process queue', false], ['BullMQ', true]])('with %s', (_, withRedis) => {
  let server: RunningServer
  let redis: RunningRedis | undefined
  let hanging: TestPushService
  let answering: TestPushService
  let certDir: string

  beforeAll(async () => {
    hanging = new TestPushService()
    answering = new TestPushService()
    await hanging.start()
    await answering.start()
    certDir = mkdtempSync(path.join(tmpdir(), 'mercury-certs-'))
    const certs = path.join(certDir, 'certs.pem')
    writeFileSync(certs, readFileSync(hanging.certFile, 'utf8') + readFileSync(answering.certFile, 'utf8'))
    if (withRedis) redis = await startRedis()
    server = await startServer({
      env: {
        MERCURY_PUSH_ALLOW_INSECURE: '1',
        NODE_EXTRA_CA_CERTS: certs,
        // Two pushes in flight per push service (half of 4, the default share).
        MERCURY_PUSH_CONCURRENCY: '4',
        MERCURY_PUSH_TIMEOUT_MS: String(TIMEOUT_MS),
        ...(redis ? { REDIS_URL: redis.url } : {}),
      },
    })
  })

  afterAll(async () => {
    await server?.stop()
    await hanging?.stop()
    await answering?.stop()
    await redis?.stop()
    if (certDir) rmSync(certDir, { recursive: true, force: true })
  })

  it('sends to an answering push service while another one hangs with more pushes than the slots', async () => {
    const admin = new ApiClient(server.url)
    await admin.login('admin', ADMIN_PASSWORD)
    const source = await createActiveSource(admin, 'iso', 'iso.*')
    const notify = (topic: string) =>
      publisher(server.url, source.token).post(`/api/topics/${topic}/messages`, { notification: { title: topic } })
    const stuckDevices = Array.from({ length: STUCK_DEVICES }, (_, i) => `stuck-${i}`)
    await createPushReader(admin, hanging, 'stuck-reader', 'iso.stuck', 'iso.stuck', stuckDevices)
    await createPushReader(admin, answering, 'quick-reader', 'iso.quick', 'iso.quick', ['quick-device'])
    for (const name of stuckDevices) hanging.script(name, Array.from({ length: 5 }, () => ({ hang: true as const })))

    expect((await notify('iso.stuck')).status).toBe(201)
    await expect.poll(() => hanging.received.length, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0)
    const hangStarted = Date.now()
    expect((await notify('iso.quick')).status).toBe(201)
    await expect.poll(() => answering.to('quick-device').length, { timeout: TIMEOUT_MS - 500, interval: 20 }).toBe(1)
    // Well before the hanging pushes time out, and with them still in flight: two, no more.
    expect(Date.now() - hangStarted).toBeLessThan(TIMEOUT_MS / 2)
    expect(hanging.received.length).toBe(2)
    expect(answering.to('quick-device')[0]!.problems).toEqual([])
  })
})
