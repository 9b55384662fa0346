import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, startServer, type RunningServer } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createPushReader, createReader, publisher } from '../helpers/fixtures'
import { TestPushService } from '../helpers/push-service'

let server: RunningServer
let push: TestPushService
let admin: ApiClient
let source: { id: string, token: string }
let alice: { client: ApiClient, token: string, id: string }

beforeAll(async () => {
  push = new TestPushService()
  await push.start()
  server = await startServer({
    env: {
      MERCURY_PUSH_ALLOW_INSECURE: '1',
      NODE_EXTRA_CA_CERTS: push.certFile,
      MERCURY_PUSH_RETRY_BASE_MS: '100',
      MERCURY_PUSH_TIMEOUT_MS: '1000',
      MERCURY_PUSH_MAX_ATTEMPTS: '3',
    },
  })
  admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  source = await createActiveSource(admin, 'alerts', 'alerts.*')
  alice = await createReader(admin, 'alice', 'alerts.*')
})

afterAll(async () => {
  await server?.stop()
  await push?.stop()
})

async function registerDevice(client: ApiClient, name: string) {
  const sub = push.subscribe(name)
  const res = await client.post('/api/devices', { subscription: sub.subscription, name })
  expect(res.status).toBe(201)
  return res.body.id as string
}

const notify = (topic: string, title: string, extra: Record<string, unknown> = {}) =>
  publisher(server.url, source.token).post(`/api/topics/${topic}/messages`, { event: 'alert', notification: { title, body: `${title} body`, ...extra } })

async function deliveriesOf(client: ApiClient, deviceId: string) {
  return (await client.get(`/api/devices/${deviceId}/deliveries`)).body as Record<string, any>[] // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('web push delivery', () => {
  it('serves the VAPID public key', async () => {
    const res = await new ApiClient(server.url).get('/api/push/public-key')
    expect(res.status).toBe(200)
    expect(Buffer.from(res.body.publicKey, 'base64url')).toHaveLength(65)
  })

  it('pushes a published notification to the device, signed and encrypted as a push service expects', async () => {
    await alice.client.post('/api/subscriptions', { topic: 'alerts.disk', push: true })
    const deviceId = await registerDevice(alice.client, 'alice-laptop')
    const res = await notify('alerts.disk', 'Disk full', { url: '/disks', priority: 5 })
    await expect.poll(() => push.to('alice-laptop').length, { timeout: 10_000 }).toBe(1)
    const received = push.to('alice-laptop')[0]!
    expect(received.problems).toEqual([])
    expect(received.vapidKey).toBe((await new ApiClient(server.url).get('/api/push/public-key')).body.publicKey)
    expect(received.payload).toEqual({
      user: alice.id, id: res.body.id, topic: 'alerts.disk', title: 'Disk full', body: 'Disk full body', url: '/disks', priority: 5, createdAt: res.body.createdAt,
    })
    expect(received.headers.urgency).toBe('high')
    await expect.poll(async () => (await deliveriesOf(alice.client, deviceId))[0]?.status, { timeout: 5000 }).toBe('sent')
    const [delivery] = await deliveriesOf(alice.client, deviceId)
    expect(delivery).toMatchObject({ notificationId: res.body.id, attempts: 1, statusCode: 201, error: null, notification: { title: 'Disk full', topic: 'alerts.disk' } })
  })

  it('sends no retry to a user who unsubscribed, turned push off or lost read access while it waited', async () => {
    const cases: { topic: string, change: (user: { client: ApiClient, id: string }) => Promise<unknown>, reason: string }[] = [
      { topic: 'alerts.leave', change: user => user.client.delete('/api/subscriptions/alerts.leave'), reason: 'its user unsubscribed from alerts.leave' },
      { topic: 'alerts.quiet', change: user => user.client.post('/api/subscriptions', { topic: 'alerts.quiet', push: false }), reason: 'its user turned push off for alerts.quiet' },
      {
        topic: 'alerts.revoked',
        change: async (user) => {
          const [grant] = (await admin.get(`/api/admin/grants?userId=${user.id}`)).body
          expect((await admin.delete(`/api/admin/grants/${grant.id}`)).status).toBe(204)
        },
        reason: 'its user may no longer read alerts.revoked',
      },
    ]
    await Promise.all(cases.map(async ({ topic, change, reason }) => {
      const name = `waits-${topic}`
      const reader = await createPushReader(admin, push, name, 'alerts.*', topic, [name])
      const [deviceId] = reader.devices
      push.script(name, [{ status: 429, retryAfter: 2 }])
      const res = await notify(topic, 'Waits for its retry')
      await expect.poll(async () => (await deliveriesOf(reader.client, deviceId!))[0]?.log?.length, { timeout: 10_000 }).toBe(1)
      await change(reader)
      await expect.poll(async () => (await deliveriesOf(reader.client, deviceId!))[0]?.status, { timeout: 10_000 }).toBe('failed')
      const [delivery] = await deliveriesOf(reader.client, deviceId!)
      expect(delivery).toMatchObject({ notificationId: res.body.id, attempts: 2, statusCode: null, error: `not sent: ${reason}` })
      expect(push.to(name)).toHaveLength(1) // the first try only
    }))
  })

  it('retries 429 after Retry-After and 503 with backoff, then records success with every attempt', async () => {
    await alice.client.post('/api/subscriptions', { topic: 'alerts.retry', push: true })
    const deviceId = await registerDevice(alice.client, 'alice-retry')
    push.script('alice-retry', [{ status: 429, retryAfter: 1 }, { status: 503 }])
    const started = Date.now()
    const res = await notify('alerts.retry', 'Try again')
    await expect.poll(async () => (await deliveriesOf(alice.client, deviceId)).find(d => d.notificationId === res.body.id)?.status, { timeout: 15_000 }).toBe('sent')
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000) // waited for Retry-After
    const delivery = (await deliveriesOf(alice.client, deviceId)).find(d => d.notificationId === res.body.id)!
    expect(delivery.attempts).toBe(3)
    expect(delivery.log.map((a: { statusCode: number }) => a.statusCode)).toEqual([429, 503, 201])
    expect(push.to('alice-retry').map(r => r.payload?.id)).toEqual([res.body.id, res.body.id, res.body.id])
  })

  it('counts a push\'s TTL from its publication: a retry carries what is left, a Retry-After past it ends the delivery failed', async () => {
    const reader = await createPushReader(admin, push, 'ttl-reader', 'alerts.ttl', 'alerts.ttl', ['ttl-device'])
    push.script('ttl-device', [{ status: 503, retryAfter: 2 }, { status: 429, retryAfter: 3600 }])
    const res = await notify('alerts.ttl', 'Urgent', { priority: 5 }) // TTL 1 hour
    await expect.poll(() => push.to('ttl-device').length, { timeout: 10_000 }).toBe(2)
    const [first, second] = push.to('ttl-device').map(p => Number(p.headers.ttl))
    expect(first).toBeGreaterThanOrEqual(3598)
    expect(first).toBeLessThanOrEqual(3600)
    expect(second).toBeLessThanOrEqual(first! - 2)
    await expect.poll(async () => (await deliveriesOf(reader.client, reader.devices[0]!)).find(d => d.notificationId === res.body.id)?.status, { timeout: 10_000 }).toBe('failed')
    const [delivery] = await deliveriesOf(reader.client, reader.devices[0]!)
    expect(delivery!.log).toMatchObject([
      { attempt: 1, status: 'queued', statusCode: 503 },
      { attempt: 2, status: 'failed', statusCode: 429, error: expect.stringMatching(/asked to retry in 3600 s, after the push's TTL of 3600 s since it was published ends/) },
    ])
    expect(push.to('ttl-device')).toHaveLength(2)
  })

  it('retries timeouts, dropped connections and garbage, then gives up as failed', async () => {
    await alice.client.post('/api/subscriptions', { topic: 'alerts.flaky', push: true })
    const deviceId = await registerDevice(alice.client, 'alice-flaky')
    push.script('alice-flaky', [{ hang: true }, { close: true }, { garbage: true }])
    const res = await notify('alerts.flaky', 'Flaky')
    await expect.poll(async () => (await deliveriesOf(alice.client, deviceId)).find(d => d.notificationId === res.body.id)?.status, { timeout: 15_000 }).toBe('failed')
    const delivery = (await deliveriesOf(alice.client, deviceId)).find(d => d.notificationId === res.body.id)!
    expect(delivery.attempts).toBe(3)
    expect(delivery.log.every((a: { statusCode: number | null, error: string }) => a.statusCode === null && a.error)).toBe(true)
    expect(server.process.exitCode).toBeNull()
  })

  it('cuts off a push service that answers a byte at a time at the push timeout, and retries', async () => {
    await alice.client.post('/api/subscriptions', { topic: 'alerts.drip', push: true })
    const deviceId = await registerDevice(alice.client, 'alice-drip')
    push.script('alice-drip', [{ drip: true }])
    const res = await notify('alerts.drip', 'Drip')
    await expect.poll(async () => (await deliveriesOf(alice.client, deviceId)).find(d => d.notificationId === res.body.id)?.status, { timeout: 10_000 }).toBe('sent')
    const delivery = (await deliveriesOf(alice.client, deviceId)).find(d => d.notificationId === res.body.id)!
    expect(delivery.log).toMatchObject([
      { attempt: 1, status: 'queued', statusCode: null, error: 'no complete answer in 1000 ms' },
      { attempt: 2, status: 'sent', statusCode: 201 },
    ])
  })

  it('disables a device on 410 and pushes to it no more; other 4xx fail without retry', async () => {
    await alice.client.post('/api/subscriptions', { topic: 'alerts.gone', push: true })
    const goneId = await registerDevice(alice.client, 'alice-gone')
    const badId = await registerDevice(alice.client, 'alice-bad')
    push.script('alice-gone', [{ status: 410, body: 'push subscription has unsubscribed or expired' }])
    push.script('alice-bad', [{ status: 400, body: 'bad request' }])
    const first = await notify('alerts.gone', 'First')
    await expect.poll(async () => (await deliveriesOf(alice.client, goneId))[0]?.status, { timeout: 10_000 }).toBe('expired')
    await expect.poll(async () => (await deliveriesOf(alice.client, badId))[0]?.status, { timeout: 10_000 }).toBe('failed')
    expect((await deliveriesOf(alice.client, goneId))[0]).toMatchObject({ notificationId: first.body.id, statusCode: 410, error: expect.stringContaining('expired') })
    expect((await deliveriesOf(alice.client, badId))[0]).toMatchObject({ attempts: 1, statusCode: 400 })
    expect((await alice.client.get('/api/devices')).body.find((d: { id: string }) => d.id === goneId).disabledAt).not.toBeNull()

    await notify('alerts.gone', 'Second')
    await expect.poll(() => push.to('alice-bad').length, { timeout: 10_000 }).toBe(2)
    expect(push.to('alice-gone')).toHaveLength(1)

    const log = await admin.get(`/api/admin/deliveries?deviceId=${goneId}`)
    expect(log.body.items).toHaveLength(1)
    expect(log.body.items[0]).toMatchObject({ status: 'expired', statusCode: 410, device: { id: goneId, username: 'alice' }, notification: { title: 'First' } })
    const expired = await admin.get('/api/admin/deliveries?status=expired')
    expect(expired.body.counts.expired).toBeGreaterThanOrEqual(1)
    expect(expired.body.items.every((d: { status: string }) => d.status === 'expired')).toBe(true)
    // Registering the same endpoint again turns it back on.
    const again = await alice.client.post('/api/devices', { subscription: push.subscribe('alice-gone').subscription })
    expect(again.body).toMatchObject({ id: goneId, disabledAt: null })
  })

  it('pushes only to subscribers with push on who may read the topic', async () => {
    const bob = await createReader(admin, 'bob', 'alerts.*')
    const carol = await createReader(admin, 'carol', 'alerts.*')
    await bob.client.post('/api/subscriptions', { topic: 'alerts.quiet', push: false })
    await registerDevice(bob.client, 'bob-phone')
    await carol.client.post('/api/subscriptions', { topic: 'alerts.quiet', push: true })
    await registerDevice(carol.client, 'carol-phone')
    // Carol loses her read grant: she is still subscribed, but may not read the topic any more.
    const grants = await admin.get(`/api/admin/grants?userId=${carol.id}`)
    await admin.delete(`/api/admin/grants/${grants.body[0].id}`)
    await alice.client.post('/api/subscriptions', { topic: 'alerts.quiet', push: true })
    await registerDevice(alice.client, 'alice-quiet')
    await notify('alerts.quiet', 'Quiet')
    await expect.poll(() => push.to('alice-quiet').length, { timeout: 10_000 }).toBe(1)
    await new Promise(r => setTimeout(r, 300))
    expect(push.to('bob-phone')).toHaveLength(0)
    expect(push.to('carol-phone')).toHaveLength(0)
    // Bob still gets it in his inbox: push off only silences the device.
    expect((await bob.client.get('/api/inbox')).body.items.map((i: { title: string }) => i.title)).toEqual(['Quiet'])
  })

  it('reads and pushes through group grants and to admins, not to a member who left the group', async () => {
    const gina = await createReader(admin, 'gina', null)
    const hank = await createReader(admin, 'hank', null)
    const group = (await admin.post('/api/admin/groups', { name: 'team' })).body
    expect((await admin.post('/api/admin/grants', { groupId: group.id, topic: 'alerts.team.*', read: true })).status).toBe(201)
    for (const member of [gina, hank]) {
      expect((await admin.post(`/api/admin/groups/${group.id}/members`, { userId: member.id })).status).toBe(201)
      expect((await member.client.post('/api/subscriptions', { topic: 'alerts.team.ops', push: true })).status).toBe(201)
      await registerDevice(member.client, `${member === gina ? 'gina' : 'hank'}-phone`)
    }
    expect((await admin.post('/api/subscriptions', { topic: 'alerts.team.ops', push: true })).status).toBe(201)
    await registerDevice(admin, 'admin-laptop')
    // Hank leaves the group: still subscribed, no longer allowed to read.
    expect((await admin.delete(`/api/admin/groups/${group.id}/members/${hank.id}`)).status).toBeLessThan(300)
    await notify('alerts.team.ops', 'Team')
    await expect.poll(() => push.to('gina-phone').length, { timeout: 10_000 }).toBe(1)
    await expect.poll(() => push.to('admin-laptop').length, { timeout: 10_000 }).toBe(1)
    await new Promise(r => setTimeout(r, 300))
    expect(push.to('hank-phone')).toHaveLength(0)
    const titles = async (client: ApiClient) => (await client.get('/api/inbox')).body.items.map((i: { title: string }) => i.title)
    expect(await titles(gina.client)).toEqual(['Team'])
    expect(await titles(admin)).toContain('Team')
    expect(await titles(hank.client)).toEqual([])
  })

  it('records one delivery per device in one write, and the delivery log pages through all of them', async () => {
    const erin = await createReader(admin, 'erin', 'alerts.*')
    await erin.client.post('/api/subscriptions', { topic: 'alerts.many', push: true })
    const devices = []
    for (let i = 0; i < 7; i++) devices.push(await registerDevice(erin.client, `erin-${i}`))
    const res = await notify('alerts.many', 'Many')
    const all = `/api/admin/deliveries?notificationId=${res.body.id}`
    await expect.poll(async () => (await admin.get(`${all}&limit=1`)).body.counts.sent, { timeout: 10_000 }).toBe(7)
    // All seven rows share one createdAt: pages of three must still bring each exactly once.
    const seen: string[] = []
    let cursor = ''
    for (let page = 0; page < 5; page++) {
      const body = (await admin.get(`${all}&limit=3${cursor}`)).body
      expect(body.counts).toEqual({ queued: 0, sent: 7, failed: 0, expired: 0 })
      seen.push(...body.items.map((d: { deviceId: string }) => d.deviceId))
      if (!body.nextBefore) break
      cursor = `&before=${encodeURIComponent(body.nextBefore)}&beforeId=${encodeURIComponent(body.nextBeforeId)}`
    }
    expect(seen.sort()).toEqual([...devices].sort())
    const page = (await admin.get(`${all}&limit=7`)).body.items
    expect(new Set(page.map((d: { createdAt: string }) => d.createdAt)).size).toBe(1)
    expect(page.every((d: { attempts: number, statusCode: number, log: unknown[] }) => d.attempts === 1 && d.statusCode === 201 && d.log.length === 1)).toBe(true)
  })
})

describe('devices API', () => {
  it('stores a burst of notifications published at once: each in the inbox with its offset, each pushed once', async () => {
    await alice.client.post('/api/subscriptions', { topic: 'alerts.burst', push: true })
    const deviceId = await registerDevice(alice.client, 'alice-burst')
    // Published together, they are written in a few batches: every one must come out whole.
    const published = await Promise.all(Array.from({ length: 30 }, (_, i) => notify('alerts.burst', `Burst ${i}`)))
    expect(published.map(r => r.status)).toEqual(Array(30).fill(201))
    const offsets = new Map(published.map(r => [r.body.id as string, r.body.offset as number]))
    expect(new Set(offsets.values()).size).toBe(30)
    const inbox = (await alice.client.get('/api/inbox?topic=alerts.burst&limit=100')).body.items as { id: string, offset: number, title: string }[]
    expect(inbox).toHaveLength(30)
    for (const item of inbox) expect(item.offset).toBe(offsets.get(item.id))
    // Newest first, and those of one millisecond in the order they were published (their offsets).
    expect(inbox.map(i => i.offset)).toEqual([...offsets.values()].sort((a, b) => b - a))
    await expect.poll(() => push.to('alice-burst').length, { timeout: 15_000 }).toBe(30)
    expect(new Set(push.to('alice-burst').map(p => p.payload?.id))).toEqual(new Set(offsets.keys()))
    await expect.poll(async () => (await deliveriesOf(alice.client, deviceId)).filter(d => d.status === 'sent').length, { timeout: 10_000 }).toBe(30)
  })

  it('keeps the notifications of a burst over several topics and readers apart', async () => {
    // Published together, their readers and devices are read in shared statements: each
    // notification must still reach exactly its own readers and their devices.
    const own = await createReader(admin, 'own-mix', 'alerts.mix.a')
    const grouped = await createReader(admin, 'group-mix', null)
    const nopush = await createReader(admin, 'nopush-mix', 'alerts.mix.*')
    const outsider = await createReader(admin, 'outsider-mix', 'alerts.mix.b')
    const group = await admin.post('/api/admin/groups', { name: 'mix' })
    expect((await admin.post(`/api/admin/groups/${group.body.id}/members`, { userId: grouped.id })).status).toBe(201)
    expect((await admin.post('/api/admin/grants', { groupId: group.body.id, topic: 'alerts.mix.b', read: true })).status).toBe(201)
    for (const [reader, topic, withPush] of [[own, 'alerts.mix.a', true], [grouped, 'alerts.mix.b', true], [nopush, 'alerts.mix.a', false], [nopush, 'alerts.mix.b', false], [outsider, 'alerts.mix.b', true]] as const) {
      expect((await reader.client.post('/api/subscriptions', { topic, push: withPush })).status).toBe(201)
    }
    for (const [reader, name] of [[own, 'own-mix'], [grouped, 'group-mix'], [nopush, 'nopush-mix'], [outsider, 'outsider-mix']] as const) await registerDevice(reader.client, name)
    // The outsider's grant goes: subscribed still, no longer allowed to read.
    const [outsiderGrant] = (await admin.get(`/api/admin/grants?userId=${outsider.id}`)).body as { id: string }[]
    expect((await admin.delete(`/api/admin/grants/${outsiderGrant!.id}`)).status).toBe(204)
    const published = await Promise.all(Array.from({ length: 20 }, (_, i) => notify(i % 2 ? 'alerts.mix.b' : 'alerts.mix.a', `Mix ${i}`)))
    expect(published.map(r => r.status)).toEqual(Array(20).fill(201))
    const idsOf = (topic: string) => new Set(published.filter(r => r.body.topic === topic).map(r => r.body.id as string))
    const inboxOf = async (client: ApiClient) => new Set(((await client.get('/api/inbox?limit=100')).body.items as { id: string }[]).map(i => i.id))
    expect(await inboxOf(own.client)).toEqual(idsOf('alerts.mix.a'))
    expect(await inboxOf(grouped.client)).toEqual(idsOf('alerts.mix.b'))
    expect(await inboxOf(nopush.client)).toEqual(new Set([...idsOf('alerts.mix.a'), ...idsOf('alerts.mix.b')]))
    // Subscribed to alerts.mix.b, but no longer allowed to read it: nothing.
    expect(await inboxOf(outsider.client)).toEqual(new Set())
    await expect.poll(() => push.to('own-mix').length + push.to('group-mix').length, { timeout: 15_000 }).toBe(20)
    expect(new Set(push.to('own-mix').map(p => p.payload?.id))).toEqual(idsOf('alerts.mix.a'))
    expect(new Set(push.to('group-mix').map(p => p.payload?.id))).toEqual(idsOf('alerts.mix.b'))
    expect(push.to('own-mix')).toHaveLength(10)
    // Each push names the user whose inbox it goes to (the browser stores it for that user only).
    expect(new Set(push.to('own-mix').map(p => p.payload?.user))).toEqual(new Set([own.id]))
    expect(new Set(push.to('group-mix').map(p => p.payload?.user))).toEqual(new Set([grouped.id]))
    expect(push.to('nopush-mix')).toEqual([])
    expect(push.to('outsider-mix')).toEqual([])
  })

  it('makes an endpoint registered by another user a new device of theirs, handing nothing over', async () => {
    await alice.client.post('/api/subscriptions', { topic: 'alerts.shared', push: true })
    const sub = push.subscribe('shared-browser')
    const mine = await alice.client.post('/api/devices', { subscription: sub.subscription, name: 'Alice phone' })
    expect(mine.status).toBe(201)
    expect((await notify('alerts.shared', 'Alice secret')).status).toBe(201)
    await expect.poll(async () => (await deliveriesOf(alice.client, mine.body.id)).length, { timeout: 10_000 }).toBe(1)
    // Someone else logs in on that browser and registers its subscription.
    const mallory = await createReader(admin, 'mallory', null)
    const theirs = await mallory.client.post('/api/devices', { subscription: sub.subscription })
    expect(theirs.status).toBe(201)
    expect(theirs.body.id).not.toBe(mine.body.id)
    expect(theirs.body.name).not.toBe('Alice phone')
    expect(await deliveriesOf(mallory.client, theirs.body.id)).toEqual([])
    expect((await mallory.client.get(`/api/devices/${mine.body.id}/deliveries`)).status).toBe(404)
    // The browser is no longer Alice's device.
    expect((await alice.client.get('/api/devices')).body.map((d: { id: string }) => d.id)).not.toContain(mine.body.id)
    expect((await alice.client.get(`/api/devices/${mine.body.id}/deliveries`)).status).toBe(404)
    // Registering again from the same user keeps the device.
    expect((await mallory.client.post('/api/devices', { subscription: sub.subscription, name: 'renamed' })).body).toMatchObject({ id: theirs.body.id, name: 'renamed' })
  })

  it('sends a waiting retry to no device that was disabled or handed to another user meanwhile', async () => {
    await alice.client.post('/api/subscriptions', { topic: 'alerts.later', push: true })
    const later = await createReader(admin, 'later-other', null)
    // Disabled meanwhile: the retry of the first notification comes after a 410 for the second.
    const goneId = await registerDevice(alice.client, 'later-gone')
    push.script('later-gone', [{ status: 503, retryAfter: 3 }, { status: 410 }])
    // Handed over meanwhile: someone else registers the browser's endpoint.
    const shared = push.subscribe('later-shared')
    const sharedId = (await alice.client.post('/api/devices', { subscription: shared.subscription })).body.id
    push.script('later-shared', [{ status: 503, retryAfter: 3 }])
    const first = await notify('alerts.later', 'Alice only')
    await expect.poll(() => push.to('later-gone').length + push.to('later-shared').length, { timeout: 10_000 }).toBe(2)
    expect((await later.client.post('/api/devices', { subscription: shared.subscription })).status).toBe(201)
    await notify('alerts.later', 'Second')
    await expect.poll(async () => (await deliveriesOf(alice.client, goneId)).find(d => d.notificationId !== first.body.id)?.status, { timeout: 10_000 }).toBe('expired')

    await expect.poll(async () => (await deliveriesOf(alice.client, goneId)).find(d => d.notificationId === first.body.id)?.status, { timeout: 10_000 }).toBe('expired')
    await new Promise(resolve => setTimeout(resolve, 1000))
    const delivery = (await deliveriesOf(alice.client, goneId)).find(d => d.notificationId === first.body.id)!
    expect(delivery.log).toMatchObject([
      { attempt: 1, status: 'queued', statusCode: 503 },
      { attempt: 2, status: 'expired', statusCode: null, error: expect.stringMatching(/not sent: the device was disabled/) },
    ])
    expect(push.to('later-gone').map(r => r.payload?.title)).toEqual(['Alice only', 'Second'])
    expect(push.to('later-shared').map(r => r.payload?.title)).toEqual(['Alice only'])
    expect((await alice.client.get(`/api/devices/${sharedId}/deliveries`)).status).toBe(404)
  })

  it('a logout naming this browser\'s push endpoint removes that device: no more pushes to it', async () => {
    const fay = await createReader(admin, 'fay', 'alerts.*')
    await fay.client.post('/api/subscriptions', { topic: 'alerts.logout', push: true })
    const session = new ApiClient(server.url)
    await session.login('fay', 'reader-password')
    const browser = push.subscribe('fay-shared-browser')
    expect((await session.post('/api/devices', { subscription: browser.subscription })).status).toBe(201)
    const kept = await registerDevice(fay.client, 'fay-phone')
    // A bad body is refused and ends nothing.
    for (const body of [{ endpoint: 42 }, [], 'x']) {
      const res = await session.post('/api/auth/logout', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.message).toMatch(/body/)
    }
    expect((await session.get('/api/me')).status).toBe(200)
    // Another user's endpoint is not theirs to remove.
    const phone = (await fay.client.get('/api/devices')).body.find((d: { id: string }) => d.id === kept).endpoint
    const someoneElse = new ApiClient(server.url)
    await someoneElse.login('alice', 'reader-password')
    expect((await someoneElse.post('/api/auth/logout', { endpoint: phone })).status).toBe(200)
    expect((await new ApiClient(server.url).post('/api/auth/logout', { endpoint: phone })).status).toBe(200)
    expect((await session.post('/api/auth/logout', { endpoint: browser.subscription.endpoint })).status).toBe(200)
    expect((await session.get('/api/me')).status).toBe(401)
    expect((await fay.client.get('/api/devices')).body.map((d: { id: string }) => d.id)).toEqual([kept])
    expect((await notify('alerts.logout', 'After the logout')).status).toBe(201)
    await expect.poll(() => push.to('fay-phone').length, { timeout: 10_000 }).toBe(1)
    expect(push.to('fay-shared-browser')).toEqual([])
  })

  it('keeps publishing to a busy topic while an admin deletes some of its subscribers', async () => {
    const readers = []
    for (let i = 0; i < 8; i++) {
      const reader = await createReader(admin, `churn-${i}`, 'alerts.*')
      expect((await reader.client.post('/api/subscriptions', { topic: 'alerts.churn', push: false })).status).toBe(201)
      readers.push(reader)
    }
    const statuses: number[] = []
    const publishing = (async () => {
      for (let round = 0; round < 10; round++) {
        const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => notify('alerts.churn', `Churn ${round}-${i}`)))
        statuses.push(...answers.map(a => a.status))
      }
    })()
    for (const reader of readers.slice(0, 6)) {
      expect((await admin.delete(`/api/admin/users/${reader.id}`)).status).toBe(204)
    }
    await publishing
    expect(statuses.filter(s => s !== 201)).toEqual([])
    for (const reader of readers.slice(6)) {
      const inbox = await reader.client.get('/api/inbox?limit=500&topic=alerts.churn')
      expect(inbox.body.items).toHaveLength(300)
    }
  })

  it('registers at most 100 devices per user; an endpoint already registered is updated, not counted', async () => {
    const user = await createReader(admin, 'many-devices-user', null)
    const first = push.subscribe('cap-0').subscription
    expect((await user.client.post('/api/devices', { subscription: first })).status).toBe(201)
    for (let i = 1; i < 100; i++) expect((await user.client.post('/api/devices', { subscription: push.subscribe(`cap-${i}`).subscription })).status).toBe(201)
    const over = await user.client.post('/api/devices', { subscription: push.subscribe('cap-100').subscription })
    expect(over.status).toBe(409)
    expect(over.body.message).toBe('At most 100 devices per user: remove one first')
    expect((await user.client.post('/api/devices', { subscription: first, name: 'renamed' })).status).toBe(201)
  })

  it('lists and deletes own devices only', async () => {
    const dave = await createReader(admin, 'dave', 'alerts.*')
    const id = await registerDevice(dave.client, 'dave-tablet')
    expect((await dave.client.get('/api/devices')).body.map((d: { id: string }) => d.id)).toEqual([id])
    expect((await alice.client.delete(`/api/devices/${id}`)).status).toBe(404)
    expect((await alice.client.get(`/api/devices/${id}/deliveries`)).status).toBe(404)
    expect((await dave.client.delete(`/api/devices/${id}`)).status).toBe(204)
    expect((await dave.client.get('/api/devices')).body).toEqual([])
  })

  it('says which field of a malformed subscription is wrong', async () => {
    const good = push.subscribe('shape').subscription
    const cases: [unknown, RegExp][] = [
      [{}, /subscription/],
      [{ subscription: { ...good, endpoint: 'not a url' } }, /subscription\.endpoint/],
      [{ subscription: { ...good, keys: { ...good.keys, p256dh: 'abc$' } } }, /subscription\.keys\.p256dh: must be base64url/],
      [{ subscription: { ...good, keys: { ...good.keys, p256dh: Buffer.alloc(33).toString('base64url') } } }, /subscription\.keys\.p256dh: must decode to 65 bytes/],
      [{ subscription: { ...good, keys: { ...good.keys, p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64)]).toString('base64url') } } }, /subscription\.keys\.p256dh: must be a P-256 public key/],
      [{ subscription: { ...good, keys: { ...good.keys, auth: Buffer.alloc(8).toString('base64url') } } }, /subscription\.keys\.auth: must decode to 16 bytes/],
      [{ subscription: { ...good, keys: undefined } }, /subscription\.keys/],
    ]
    for (const [body, message] of cases) {
      const res = await alice.client.post('/api/devices', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.message).toMatch(message)
    }
    expect((await new ApiClient(server.url).post('/api/devices', { subscription: good })).status).toBe(401)
  })
})

describe('endpoint guard (without MERCURY_PUSH_ALLOW_INSECURE)', () => {
  let strict: RunningServer
  beforeAll(async () => {
    strict = await startServer()
  })
  afterAll(async () => {
    await strict?.stop()
  })

  it('refuses http, loopback and private endpoints', async () => {
    const client = new ApiClient(strict.url)
    await client.login('admin', ADMIN_PASSWORD)
    const keys = push.subscribe('guard').subscription.keys
    for (const [endpoint, message] of [
      ['http://push.example.com/x', /https/],
      ['https://127.0.0.1/x', /loopback, private or reserved/],
      ['https://localhost:8443/x', /local host/],
      ['https://10.1.2.3/x', /loopback, private or reserved/],
      ['https://192.168.0.10/x', /loopback, private or reserved/],
      ['https://[::1]/x', /loopback, private or reserved/],
      ['https://169.254.169.254/latest', /loopback, private or reserved/],
      // IPv6 outside public global unicast: SIIT carrying 127.0.0.1, ::/8, SRv6, documentation, ORCHID.
      ['https://[::ffff:0:7f00:1]/y', /loopback, private or reserved/],
      ['https://[::1:0:0:1]/y', /loopback, private or reserved/],
      ['https://[5f00::1]/y', /loopback, private or reserved/],
      ['https://[3fff::1]/y', /loopback, private or reserved/],
      ['https://[2001:10::1]/y', /loopback, private or reserved/],
      ['https://u:p@push.example.com/z', /must not contain a user name or password/],
    ] as const) {
      const res = await client.post('/api/devices', { subscription: { endpoint, keys } })
      expect(res.status, endpoint).toBe(400)
      expect(res.body.message).toMatch(message)
    }
    expect((await client.post('/api/devices', { subscription: { endpoint: 'https://fcm.googleapis.com/fcm/send/abc', keys } })).status).toBe(201)
  })

  it('names every wrong field of a subscription in one answer, the endpoint\'s address included', async () => {
    const client = new ApiClient(strict.url)
    await client.login('admin', ADMIN_PASSWORD)
    const offCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64)]).toString('base64url')
    const res = await client.post('/api/devices', { subscription: { endpoint: 'http://127.0.0.1/x', keys: { p256dh: offCurve, auth: 'abc' } } })
    expect(res.status).toBe(400)
    expect(res.body.message).toBe('Invalid body: subscription.endpoint: must be an https URL; subscription.keys.p256dh: must be a P-256 public key (an uncompressed point of the curve); subscription.keys.auth: must decode to 16 bytes (the 16-byte auth secret)')
    expect(res.body.data.issues.map((issue: { path: string[] }) => issue.path.join('.'))).toEqual(['subscription.endpoint', 'subscription.keys.p256dh', 'subscription.keys.auth'])
  })
})

describe('embedded mode (in-process queues)', () => {
  const env = () => ({ MERCURY_PUSH_ALLOW_INSECURE: '1', NODE_EXTRA_CA_CERTS: push.certFile })

  /** A server of its own whose admin gets pushes of `topic` (an active source publishes there) on a device per name. */
  async function pushServer(sourceName: string, topic: string, deviceNames: string[]) {
    const first = await startServer({ env: env() })
    const client = new ApiClient(first.url)
    await client.login('admin', ADMIN_PASSWORD)
    const own = await createActiveSource(client, sourceName, `${topic.split('.')[0]}.*`)
    await client.post('/api/subscriptions', { topic, push: true })
    const deviceIds: string[] = []
    for (const name of deviceNames) deviceIds.push((await client.post('/api/devices', { subscription: push.subscribe(name).subscription })).body.id)
    return { first, client, own, deviceIds }
  }

  /** Stopped (the in-process queue goes with it), its database kept for the restart. */
  async function stop(server: RunningServer, signal: 'SIGTERM' | 'SIGKILL') {
    server.process.kill(signal)
    await new Promise(resolve => server.process.once('exit', resolve))
  }

  /** Another server on the database of the one stopped, and its admin logged in. */
  async function restart(server: RunningServer) {
    const restarted = await startServer({ db: server.db, env: env() })
    const again = new ApiClient(restarted.url)
    await again.login('admin', ADMIN_PASSWORD)
    return { restarted, again }
  }

  it('a restart waits for a queued retry\'s Retry-After, and sends it with what is left of its TTL', async () => {
    const { first, client, own, deviceIds: [deviceId] } = await pushServer('patient', 'wait.test', ['waiter'])
    push.script('waiter', [{ status: 429, retryAfter: 5 }])
    let restarted: RunningServer | undefined
    try {
      const res = await publisher(first.url, own.token).post('/api/topics/wait.test/messages', { notification: { title: 'later', priority: 5 } }) // TTL 1 hour
      await expect.poll(async () => (await client.get(`/api/devices/${deviceId}/deliveries`)).body[0]?.log?.length, { timeout: 10_000, interval: 50 }).toBe(1)
      const askedAt = Date.now()
      await stop(first, 'SIGTERM')
      const next = await restart(first)
      restarted = next.restarted
      const again = next.again
      await expect.poll(() => push.to('waiter').length, { timeout: 15_000, interval: 50 }).toBe(2)
      // Not at once on start-up: when the push service said.
      expect(Date.now() - askedAt).toBeGreaterThanOrEqual(4500)
      const ttl = Number(push.to('waiter')[1]!.headers.ttl)
      expect(ttl).toBeLessThanOrEqual(3600 - 4)
      await expect.poll(async () => (await again.get(`/api/devices/${deviceId}/deliveries`)).body[0]?.status, { timeout: 10_000 }).toBe('sent')
      expect(push.to('waiter').map(p => p.payload?.id)).toEqual([res.body.id, res.body.id])
    }
    finally {
      await restarted?.stop()
      await first.stop()
    }
  })

  it('a restart ends, without sending it, a retry whose device was disabled meanwhile', async () => {
    const { first, client, own, deviceIds: [deviceId] } = await pushServer('disabling', 'gone.test', ['going'])
    push.script('going', [{ status: 429, retryAfter: 60 }, { status: 410 }])
    let restarted: RunningServer | undefined
    try {
      const waiting = await publisher(first.url, own.token).post('/api/topics/gone.test/messages', { notification: { title: 'waits' } })
      await expect.poll(async () => (await client.get(`/api/devices/${deviceId}/deliveries`)).body[0]?.log?.length, { timeout: 10_000 }).toBe(1)
      await publisher(first.url, own.token).post('/api/topics/gone.test/messages', { notification: { title: 'disables' } })
      await expect.poll(async () => (await client.get('/api/devices')).body[0]?.disabledAt, { timeout: 10_000 }).not.toBeNull()
      await stop(first, 'SIGTERM')
      const next = await restart(first)
      restarted = next.restarted
      const again = next.again
      // At once, not when its retry (a minute later) would have been due.
      await expect.poll(async () => (await again.get(`/api/devices/${deviceId}/deliveries`)).body.find((d: { notificationId: string }) => d.notificationId === waiting.body.id)?.status, { timeout: 10_000 }).toBe('expired')
      expect(push.to('going')).toHaveLength(2)
    }
    finally {
      await restarted?.stop()
      await first.stop()
    }
  })

  it('a server killed with pushes in flight sends them after its restart', async () => {
    const { first, own, deviceIds } = await pushServer('crashy', 'crash.test', ['crash0', 'crash1', 'crash2'])
    push.latencyMs = 3000
    let restarted: RunningServer | undefined
    try {
      const res = await publisher(first.url, own.token).post('/api/topics/crash.test/messages', { notification: { title: 'survives' } })
      await expect.poll(() => push.received.filter(r => r.name.startsWith('crash')).length, { timeout: 10_000, interval: 20 }).toBe(3)
      await stop(first, 'SIGKILL')
      push.latencyMs = 0
      const next = await restart(first)
      restarted = next.restarted
      const again = next.again
      for (const id of deviceIds) {
        await expect.poll(async () => (await again.get(`/api/devices/${id}/deliveries`)).body[0]?.status, { timeout: 10_000 }).toBe('sent')
      }
      const sent = push.received.filter(r => r.name.startsWith('crash') && r.payload?.id === res.body.id)
      expect(sent).toHaveLength(6)
      // Those sent again after the restart name their user too, the same as the first ones.
      expect([...new Set(sent.map(r => r.payload?.user))]).toEqual([expect.any(String)])
    }
    finally {
      push.latencyMs = 0
      await restarted?.stop()
      await first.stop()
    }
  })
})
