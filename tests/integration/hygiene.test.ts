import type { Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, startServer } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createReader } from '../helpers/fixtures'
import { TestSocket } from '../helpers/ws'

async function setUp(env: Record<string, string>) {
  const server = await startServer({ env })
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'producer', 'hyg.*')
  const reader = await createReader(admin, 'reader', 'hyg.*')
  return { server, admin, source, reader }
}

/** Stops reading from the socket, as a stuck or vanished client would. */
const stopReading = (ws: TestSocket) => (ws.ws as unknown as { _socket: Socket })._socket.pause()

describe('slow consumers', () => {
  let s: Awaited<ReturnType<typeof setUp>>
  beforeAll(async () => {
    s = await setUp({ MERCURY_MAX_BUFFERED_BYTES: String(256 * 1024) })
  })
  afterAll(async () => {
    await s?.server.stop()
  })

  it('disconnects a client that stops reading, with a reason, and the others get everything', async () => {
    const topic = 'hyg.flood'
    const healthy = await TestSocket.open(`${s.server.url}/channel`, { token: s.reader.token })
    const stuck = await TestSocket.open(`${s.server.url}/channel`, { token: s.reader.token })
    await healthy.request({ type: 'subscribe', topic })
    await stuck.request({ type: 'subscribe', topic })
    stopReading(stuck)
    const producer = await TestSocket.open(`${s.server.url}/datalink`, { token: s.source.token })
    // Enough to fill the kernel's socket buffers (several MB on loopback) and then the server's.
    const blob = 'x'.repeat(48 * 1024)
    for (let i = 0; i < 400; i++) await producer.request({ type: 'publish', topic, data: { i, blob } })
    const received = await healthy.collect(f => f.type === 'message', 400, 30_000)
    expect(received.map(f => f.data.i)).toEqual(Array.from({ length: 400 }, (_, i) => i))
    await expect.poll(async () => (await s.admin.get('/api/admin/metrics')).body.hub.channelConnections, { timeout: 5000 }).toBe(1)
    // Once it reads again it finds the close frame and its reason.
    ;(stuck.ws as unknown as { _socket: Socket })._socket.resume()
    expect(await stuck.closed).toEqual({ code: 4008, reason: expect.stringContaining('slow consumer') })
    await producer.close()
    await healthy.close()
  })
})

describe('heartbeats', () => {
  let s: Awaited<ReturnType<typeof setUp>>
  beforeAll(async () => {
    s = await setUp({ MERCURY_HEARTBEAT_SECONDS: '1' })
  })
  afterAll(async () => {
    await s?.server.stop()
  })

  it('closes connections that stop answering pings and keeps the live ones', async () => {
    const live = await TestSocket.open(`${s.server.url}/channel`, { token: s.reader.token })
    const dead = await TestSocket.open(`${s.server.url}/channel`, { token: s.reader.token })
    await live.request({ type: 'subscribe', topic: 'hyg.beat' })
    await dead.request({ type: 'subscribe', topic: 'hyg.beat' })
    stopReading(dead)
    await expect.poll(async () => (await s.admin.get('/api/admin/metrics')).body.hub.channelConnections, { timeout: 6000 }).toBe(1)
    // The live one, which answers pings by itself, is still there and still served.
    await new Promise(r => setTimeout(r, 1500))
    expect((await s.admin.get('/api/admin/metrics')).body.hub).toMatchObject({ channelConnections: 1, topics: 1 })
    const producer = await TestSocket.open(`${s.server.url}/datalink`, { token: s.source.token })
    await producer.request({ type: 'publish', topic: 'hyg.beat', data: 'still here' })
    expect((await live.next(f => f.type === 'message')).data).toBe('still here')
    await producer.close()
    await live.close()
  })
})
