import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, startServer, type RunningServer } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createReader } from '../helpers/fixtures'
import { TestSocket } from '../helpers/ws'

interface Setup {
  server: RunningServer
  sourceToken: string
  readerToken: string
  reader: ApiClient
}

async function setUp(env: Record<string, string>): Promise<Setup> {
  const server = await startServer({ env })
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'producer', 'rec.*')
  const reader = await createReader(admin, 'reader', 'rec.*')
  return { server, sourceToken: source.token, readerToken: reader.token, reader: reader.client }
}

/** Publishes `count` messages over /datalink, keeping up to 200 in flight; resolves on the last ack. */
async function publishMany(url: string, token: string, topic: string, count: number, onAck?: (n: number) => void) {
  const producer = await TestSocket.open(`${url}/datalink`, { token })
  let acked = 0
  let sent = 0
  await new Promise<void>((resolve, reject) => {
    producer.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (frame.type !== 'ack') return reject(new Error(JSON.stringify(frame)))
      acked++
      onAck?.(acked)
      if (sent < count) producer.send({ type: 'publish', ref: sent, topic, data: { n: ++sent } })
      if (acked === count) resolve()
    })
    for (; sent < Math.min(200, count);) producer.send({ type: 'publish', ref: sent, topic, data: { n: ++sent } })
  })
  await producer.close()
}

const offsetsOf = (frames: Record<string, any>[], topic: string) => // eslint-disable-line @typescript-eslint/no-explicit-any
  frames.filter(f => f.type === 'message' && f.topic === topic).map(f => f.offset as number)

describe('recovery within the history', () => {
  let s: Setup
  beforeAll(async () => {
    s = await setUp({ MERCURY_HISTORY_SIZE: '20000', MERCURY_SOURCE_RATE_LIMIT: '1000000', MERCURY_DATALINK_FRAME_RATE: '1000000' })
  })
  afterAll(async () => {
    await s?.server.stop()
  })

  it('a client that drops mid-stream of 10,000 messages gets every one exactly once, in order', async () => {
    const topic = 'rec.stream'
    const first = await TestSocket.open(`${s.server.url}/channel`, { token: s.readerToken })
    expect(await first.request({ type: 'subscribe', topic })).toMatchObject({ offset: 0, recovered: true })
    let dropped = false
    const publishing = publishMany(s.server.url, s.sourceToken, topic, 10_000, (acked) => {
      // Drop the connection abruptly part-way through the stream.
      if (!dropped && acked >= 3000) {
        dropped = true
        first.ws.terminate()
      }
    })
    await first.closed
    const seenBefore = offsetsOf(first.frames, topic)
    const last = seenBefore.at(-1) ?? 0
    expect(last).toBeGreaterThan(0)

    const second = await TestSocket.open(`${s.server.url}/channel`, { token: s.readerToken })
    second.send({ type: 'subscribe', topic, since: last })
    await publishing
    await second.collect(f => f.type === 'message', 10_000 - last, 30_000)
    const subscribed = second.frames.find(f => f.type === 'subscribed')!
    expect(subscribed.recovered).toBe(true)
    const all = [...seenBefore, ...offsetsOf(second.frames, topic)]
    expect(all).toHaveLength(10_000)
    expect(all).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1))
    expect(second.frames.filter(f => f.type === 'message').map(f => f.data.n)).toEqual(
      Array.from({ length: 10_000 - last }, (_, i) => last + i + 1))
    await second.close()
  })
})

describe('recovery beyond the history', () => {
  let s: Setup
  beforeAll(async () => {
    s = await setUp({ MERCURY_HISTORY_SIZE: '100' })
  })
  afterAll(async () => {
    await s?.server.stop()
  })

  it('says recovered:false and sends what is left, then live messages', async () => {
    const topic = 'rec.short'
    await publishMany(s.server.url, s.sourceToken, topic, 300)
    const ws = await TestSocket.open(`${s.server.url}/channel`, { token: s.readerToken })
    const subscribed = await ws.request({ type: 'subscribe', topic, since: 50 })
    expect(subscribed).toMatchObject({ type: 'subscribed', topic, offset: 300, recovered: false })
    const replay = await ws.collect(f => f.type === 'message', 100)
    expect(offsetsOf(replay, topic)).toEqual(Array.from({ length: 100 }, (_, i) => 201 + i))

    await publishMany(s.server.url, s.sourceToken, topic, 1)
    expect((await ws.collect(f => f.type === 'message', 101)).at(-1)!.offset).toBe(301)

    // Within what is kept, it recovers.
    const again = await TestSocket.open(`${s.server.url}/channel`, { token: s.readerToken })
    expect(await again.request({ type: 'subscribe', topic, since: 290 })).toMatchObject({ recovered: true, offset: 301 })
    expect(offsetsOf(await again.collect(f => f.type === 'message', 11), topic)).toEqual([291, 292, 293, 294, 295, 296, 297, 298, 299, 300, 301])
    // An offset this topic never reached is a reset: recovered:false.
    const ahead = await TestSocket.open(`${s.server.url}/channel`, { token: s.readerToken })
    expect(await ahead.request({ type: 'subscribe', topic, since: 5000 })).toMatchObject({ recovered: false, offset: 301 })

    const rest = await s.reader.get(`/api/topics/${topic}/messages?since=10&limit=5`)
    expect(rest.body).toMatchObject({ recovered: false, offset: 301 })
    expect(rest.body.messages.map((m: { offset: number }) => m.offset)).toEqual([202, 203, 204, 205, 206])
    await Promise.all([ws.close(), again.close(), ahead.close()])
  })

  it('keeps offsets increasing across a restart', async () => {
    const topic = 'rec.restart'
    await publishMany(s.server.url, s.sourceToken, topic, 5)
    // One process per SQLite database: this one stops (keeping its database) before the next starts.
    const first = s.server
    const exited = new Promise(resolve => first.process.once('exit', resolve))
    first.process.kill('SIGTERM')
    await exited
    const restarted = await startServer({ db: first.db, env: { MERCURY_HISTORY_SIZE: '100' } })
    s.server = { ...restarted, stop: async () => {
      await restarted.stop()
      await first.db.drop()
    } }
    const ws = await TestSocket.open(`${restarted.url}/channel`, { token: s.readerToken })
    const subscribed = await ws.request({ type: 'subscribe', topic, since: 5 })
    // The history did not survive (embedded mode), but the offsets go on past the old ones.
    await publishMany(restarted.url, s.sourceToken, topic, 1)
    const message = await ws.next(f => f.type === 'message')
    expect(message.offset).toBeGreaterThan(5)
    expect(subscribed.offset).toBeGreaterThanOrEqual(5)
    await ws.close()
  })

  it('closes every WebSocket with 1001 when the server stops, so clients reconnect at once', async () => {
    const stopping = s.server
    const reader = await TestSocket.open(`${stopping.url}/channel`, { token: s.readerToken })
    const producer = await TestSocket.open(`${stopping.url}/datalink`, { token: s.sourceToken })
    await stopping.stop()
    // Not 1006: the close frame is sent before the HTTP server drops its connections.
    expect(await reader.closed).toEqual({ code: 1001, reason: 'server shutting down' })
    expect(await producer.closed).toEqual({ code: 1001, reason: 'server shutting down' })
  })
})
