// A push that waits in the queue behind others is sent to its device as it is when its turn
// comes, first try included: the fanout's read of the device stands in only for a moment.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ADMIN_PASSWORD, startServer, type RunningServer } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createPushReader, publisher } from '../helpers/fixtures'
import { TestPushService } from '../helpers/push-service'

let server: RunningServer
let push: TestPushService

beforeAll(async () => {
  push = new TestPushService()
  await push.start()
  server = await startServer({
    env: {
      MERCURY_PUSH_ALLOW_INSECURE: '1',
      NODE_EXTRA_CA_CERTS: push.certFile,
      // One push at a time, so that one hanging push service holds the others back.
      MERCURY_PUSH_CONCURRENCY: '1',
      MERCURY_PUSH_TIMEOUT_MS: '2500',
      MERCURY_PUSH_RETRY_BASE_MS: '100',
    },
  })
})

afterAll(async () => {
  await server?.stop()
  await push?.stop()
})

it('sends a first try that waited behind a hanging push to no device deleted meanwhile', async () => {
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'backlog', 'backlog.*')
  const notify = (topic: string, title: string) =>
    publisher(server.url, source.token).post(`/api/topics/${topic}/messages`, { notification: { title } })
  await createPushReader(admin, push, 'slow-reader', 'backlog.slow', 'backlog.slow', ['slow-device'])
  const waiting = await createPushReader(admin, push, 'waiting-reader', 'backlog.wait', 'backlog.wait', ['deleted-device', 'kept-device'])
  push.script('slow-device', [{ hang: true }])

  expect((await notify('backlog.slow', 'Hangs')).status).toBe(201)
  // The one push slot is taken until the timeout.
  await expect.poll(() => push.to('slow-device').length, { timeout: 10_000 }).toBe(1)
  const started = Date.now()
  expect((await notify('backlog.wait', 'Waits')).status).toBe(201)
  // Its deliveries are recorded (the fanout read both devices); then one device goes.
  await expect.poll(async () => (await waiting.client.get(`/api/devices/${waiting.devices[1]}/deliveries`)).body.length, { timeout: 10_000 }).toBe(1)
  expect((await waiting.client.delete(`/api/devices/${waiting.devices[0]}`)).status).toBe(204)
  expect(Date.now() - started).toBeLessThan(2000)

  // The slot frees when the hanging push times out; the kept device then gets its first try.
  await expect.poll(() => push.to('kept-device').length, { timeout: 15_000 }).toBe(1)
  expect(Date.now() - started).toBeGreaterThan(1000)
  await expect.poll(() => push.to('slow-device').length, { timeout: 15_000 }).toBe(2)
  expect(push.to('deleted-device')).toEqual([])
  expect(push.to('kept-device')[0]!.payload).toMatchObject({ title: 'Waits' })
  await expect.poll(async () => (await waiting.client.get(`/api/devices/${waiting.devices[1]}/deliveries`)).body[0].status).toBe('sent')
})
