import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, runSql, startServer, type RunningServer } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createReader, publisher } from '../helpers/fixtures'
import { TestSocket } from '../helpers/ws'

let server: RunningServer
let admin: ApiClient
let source: { id: string, token: string }
let reader: { client: ApiClient, token: string, id: string }
let outsider: { client: ApiClient, token: string, id: string }

beforeAll(async () => {
  server = await startServer()
  admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  source = await createActiveSource(admin, 'sensors', ['sensors.*', 'alerts.*'])
  reader = await createReader(admin, 'reader', 'sensors.*')
  outsider = await createReader(admin, 'outsider', 'other.*')
})

afterAll(async () => {
  await server?.stop()
})

const channel = (token: string) => TestSocket.open(`${server.url}/channel`, { token })
const datalink = (token: string) => TestSocket.open(`${server.url}/datalink`, { token })

describe('publish and receive', () => {
  it('delivers a REST publish to a subscribed /channel client', async () => {
    const ws = await channel(reader.token)
    const subscribed = await ws.request({ type: 'subscribe', topic: 'sensors.room1' })
    expect(subscribed).toMatchObject({ type: 'subscribed', topic: 'sensors.room1', recovered: true })
    const res = await publisher(server.url, source.token).post('/api/topics/sensors.room1/messages', { event: 'temp', data: { celsius: 21.5 } })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({ id: expect.any(String), topic: 'sensors.room1', offset: subscribed.offset + 1, createdAt: expect.any(String) })
    const message = await ws.next(f => f.type === 'message')
    expect(message).toEqual({
      type: 'message', topic: 'sensors.room1', offset: res.body.offset, id: res.body.id, event: 'temp',
      data: { celsius: 21.5 }, createdAt: res.body.createdAt,
    })
    await ws.close()
  })

  it('delivers a /datalink publish, acknowledged with id and offset', async () => {
    const ws = await channel(reader.token)
    await ws.request({ type: 'subscribe', topic: 'sensors.room2' })
    const producer = await datalink(source.token)
    const ack = await producer.request({ type: 'publish', ref: 'r1', topic: 'sensors.room2', event: 'ltp', data: { v: 1 } })
    expect(ack).toMatchObject({ type: 'ack', ref: 'r1', id: expect.any(String), offset: 1 })
    const message = await ws.next(f => f.type === 'message')
    expect(message).toMatchObject({ topic: 'sensors.room2', offset: 1, id: ack.id, event: 'ltp', data: { v: 1 } })
    // Offsets are per topic and strictly increasing.
    const second = await producer.request({ type: 'publish', topic: 'sensors.room2', data: 2 })
    expect(second.offset).toBe(2)
    await producer.close()
    await ws.close()
  })

  it('never sends a message twice on one connection, even when it subscribes again with an older since', async () => {
    const ws = await channel(reader.token)
    await ws.request({ type: 'subscribe', topic: 'sensors.again', since: 0 })
    const pub = publisher(server.url, source.token)
    for (let i = 0; i < 3; i++) expect((await pub.post('/api/topics/sensors.again/messages', { data: i })).status).toBe(201)
    await expect.poll(() => ws.frames.filter(f => f.type === 'message').length).toBe(3)
    for (const since of [1, undefined, 0]) {
      expect(await ws.request({ type: 'subscribe', topic: 'sensors.again', since })).toMatchObject({ type: 'subscribed', recovered: true })
    }
    await pub.post('/api/topics/sensors.again/messages', { data: 3 })
    await expect.poll(() => ws.frames.filter(f => f.type === 'message').length).toBe(4)
    await new Promise(resolve => setTimeout(resolve, 200))
    const offsets = ws.frames.filter(f => f.type === 'message').map(f => f.offset as number)
    expect(offsets).toEqual([1, 2, 3, 4])
    // A new connection asking for the same gets the history again.
    const other = await channel(reader.token)
    await other.request({ type: 'subscribe', topic: 'sensors.again', since: 0 })
    await expect.poll(() => other.frames.filter(f => f.type === 'message').map(f => f.offset)).toEqual([1, 2, 3, 4])
    await Promise.all([ws.close(), other.close()])
  })

  it('a since past the newest offset (a stream that restarted) gets recovered:false, then every new message', async () => {
    const pub = publisher(server.url, source.token)
    for (let i = 0; i < 3; i++) expect((await pub.post('/api/topics/sensors.ahead/messages', { data: i })).status).toBe(201)
    const ws = await channel(reader.token)
    expect(await ws.request({ type: 'subscribe', topic: 'sensors.ahead', since: 10 })).toMatchObject({ type: 'subscribed', offset: 3, recovered: false })
    for (let i = 3; i < 5; i++) expect((await pub.post('/api/topics/sensors.ahead/messages', { data: i })).status).toBe(201)
    await expect.poll(() => ws.frames.filter(f => f.type === 'message').map(f => f.offset)).toEqual([4, 5])
    await ws.close()
  })

  it('subscribing again with a since replays what this connection was not sent yet', async () => {
    const pub = publisher(server.url, source.token)
    for (let i = 0; i < 3; i++) expect((await pub.post('/api/topics/sensors.later/messages', { data: i })).status).toBe(201)
    const ws = await channel(reader.token)
    expect(await ws.request({ type: 'subscribe', topic: 'sensors.later' })).toMatchObject({ offset: 3 }) // live from now: nothing sent
    expect(await ws.request({ type: 'subscribe', topic: 'sensors.later', since: 1 })).toMatchObject({ type: 'subscribed', recovered: true })
    await expect.poll(() => ws.frames.filter(f => f.type === 'message').map(f => f.offset)).toEqual([2, 3])
    await ws.close()
  })

  it('a reconnecting client resumes a stored subscription from its own since (the join on open sent nothing)', async () => {
    // As the PWA after a restart: the socket joins the stored subscription live on open, then the
    // app subscribes with the newest offset it saw; what came meanwhile must follow.
    const resumer = await createReader(admin, 'resumer', 'sensors.*')
    expect((await resumer.client.post('/api/subscriptions', { topic: 'sensors.resume', push: false })).status).toBe(201)
    const pub = publisher(server.url, source.token)
    for (let i = 0; i < 3; i++) expect((await pub.post('/api/topics/sensors.resume/messages', { data: i })).status).toBe(201)
    const ws = await channel(resumer.token)
    await ws.request({ type: 'ping' })
    expect(await ws.request({ type: 'subscribe', topic: 'sensors.resume', since: 1 })).toMatchObject({ type: 'subscribed', offset: 3, recovered: true })
    await expect.poll(() => ws.frames.filter(f => f.type === 'message').map(f => f.offset)).toEqual([2, 3])
    await ws.close()
  })

  it('a reconnecting client resumes a stored subscription in order even when a message came before its subscribe', async () => {
    // The join on open holds the topic's live messages for a moment: the client's own subscribe
    // with since then gets what it missed and what came meanwhile, in order, each once.
    const late = await createReader(admin, 'late-resumer', 'sensors.*')
    expect((await late.client.post('/api/subscriptions', { topic: 'sensors.resume2', push: false })).status).toBe(201)
    const pub = publisher(server.url, source.token)
    const publish = async (data: unknown) => expect((await pub.post('/api/topics/sensors.resume2/messages', { data })).status).toBe(201)
    for (let i = 1; i <= 5; i++) await publish(i)
    const ws = await channel(late.token)
    await ws.next(f => f.type === 'subscribed' && f.topic === 'sensors.resume2')
    await publish(6) // before the client's subscribe
    await new Promise(resolve => setTimeout(resolve, 100)) // the client reads its saved offsets
    expect(await ws.request({ type: 'subscribe', topic: 'sensors.resume2', since: 3 })).toMatchObject({ type: 'subscribed', offset: 6, recovered: true })
    await publish(7)
    await expect.poll(() => ws.frames.filter(f => f.type === 'message').map(f => f.offset)).toEqual([4, 5, 6, 7])

    // A client that does not subscribe itself gets the held messages, in order, within a second.
    const quiet = await channel(late.token)
    await quiet.next(f => f.type === 'subscribed' && f.topic === 'sensors.resume2')
    await publish(8)
    await publish(9)
    await expect.poll(() => quiet.frames.filter(f => f.type === 'message').map(f => f.offset), { timeout: 3000 }).toEqual([8, 9])
    // Later, a since before what it was sent gets what it never had, and nothing twice.
    expect(await quiet.request({ type: 'subscribe', topic: 'sensors.resume2', since: 5 })).toMatchObject({ type: 'subscribed', offset: 9, recovered: true })
    await publish(10)
    await expect.poll(() => quiet.frames.filter(f => f.type === 'message').map(f => f.offset)).toEqual([8, 9, 6, 7, 10])
    await Promise.all([ws.close(), quiet.close()])
  })

  it('answers every subscribe, also one replaced by another frame for the topic before its answer', async () => {
    const pub = publisher(server.url, source.token)
    for (let i = 0; i < 3; i++) expect((await pub.post('/api/topics/sensors.refs/messages', { data: i })).status).toBe(201)
    const ws = await channel(reader.token)
    ws.send({ type: 'subscribe', topic: 'sensors.refs', since: 0, ref: 'a' })
    ws.send({ type: 'subscribe', topic: 'sensors.refs', since: 1, ref: 'b' })
    const [a, b] = await Promise.all([ws.next(f => f.ref === 'a'), ws.next(f => f.ref === 'b')])
    expect(a).toMatchObject({ type: 'subscribed', topic: 'sensors.refs', offset: 3 })
    expect(b).toMatchObject({ type: 'subscribed', topic: 'sensors.refs', offset: 3 })
    // What the subscribe that won asked for, once.
    await expect.poll(() => ws.frames.filter(f => f.type === 'message').map(f => f.offset)).toEqual([2, 3])
    ws.send({ type: 'unsubscribe', topic: 'sensors.refs', ref: 'c' })
    ws.send({ type: 'subscribe', topic: 'sensors.refs', since: 0, ref: 'd' })
    ws.send({ type: 'unsubscribe', topic: 'sensors.refs', ref: 'e' })
    const answer = async (ref: string) => {
      await expect.poll(() => ws.frames.some(f => f.ref === ref)).toBe(true)
      return ws.frames.find(f => f.ref === ref)!
    }
    expect(await answer('c')).toMatchObject({ type: 'unsubscribed' })
    // Answered as it stands when its answer is due: unsubscribed if the unsubscribe came first.
    expect(['subscribed', 'unsubscribed']).toContain((await answer('d')).type)
    expect(await answer('e')).toMatchObject({ type: 'unsubscribed' })
    // Nothing after the last unsubscribe.
    expect((await pub.post('/api/topics/sensors.refs/messages', { data: 'after' })).status).toBe(201)
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(ws.frames.filter(f => f.type === 'message' && f.data === 'after')).toEqual([])
    await ws.close()

    // A client resuming as many topics as it may follow sends them all at once: each is answered.
    const many = await channel(reader.token)
    for (let i = 0; i < 199; i++) many.send({ type: 'subscribe', topic: `sensors.many${i}`, since: 0, ref: `m${i}` })
    const answers = await many.collect(f => typeof f.ref === 'string' && f.ref.startsWith('m'), 199)
    expect(answers.filter(f => f.type === 'subscribed')).toHaveLength(199)
    await many.close()
  })

  it('accepts text/plain as the notification body', async () => {
    const res = await publisher(server.url, source.token).post('/api/topics/alerts.disk/messages', 'Disk almost full', {
      raw: true, headers: { 'content-type': 'text/plain', 'title': 'Disk' },
    })
    expect(res.status).toBe(201)
    const history = await admin.get('/api/topics/alerts.disk/messages?since=0')
    expect(history.body.messages.at(-1)).toMatchObject({ event: 'message', notification: { title: 'Disk', body: 'Disk almost full', priority: 3 } })
  })

  it('reads a text body in its charset and a UTF-8 Title header as UTF-8', async () => {
    const post = (body: Buffer, type: string, title?: string) => fetch(`${server.url}/api/topics/alerts.text/messages`, {
      method: 'POST', body: new Uint8Array(body), headers: { 'authorization': `Bearer ${source.token}`, 'content-type': type, ...(title ? { title } : {}) },
    })
    // The header's bytes as they go on the wire: UTF-8.
    const title = Buffer.from('Tëst ✓').toString('latin1')
    expect((await post(Buffer.from('café', 'latin1'), 'text/plain; charset=iso-8859-1', title)).status).toBe(201)
    expect((await post(Buffer.from('naïve ✓'), 'text/plain', Buffer.from('Tëst', 'latin1').toString('latin1'))).status).toBe(201)
    const unknown = await post(Buffer.from('x'), 'text/plain; charset=klingon')
    expect(unknown.status).toBe(415)
    expect((await unknown.json()).message).toMatch(/charset/)
    const history = await admin.get('/api/topics/alerts.text/messages?since=0')
    expect(history.body.messages.map((m: { notification: unknown }) => m.notification)).toMatchObject([
      { title: 'Tëst ✓', body: 'café' },
      // Latin-1 bytes that are not UTF-8 stay Latin-1.
      { title: 'Tëst', body: 'naïve ✓' },
    ])

    // Bytes that are not UTF-8 are refused, never stored with replacement characters.
    for (const [bytes, type] of [
      [Buffer.from([0x41, 0xff, 0xfe]), 'text/plain'],
      [Buffer.from([0xed, 0xa0, 0x80]), 'text/plain; charset=utf-8'],
      [Buffer.concat([Buffer.from('{"notification":{"title":"cut '), Buffer.from([0xc3]), Buffer.from('"}}')]), 'application/json'],
    ] as const) {
      const refused = await post(bytes, type, 'Bytes')
      expect(refused.status).toBe(400)
      expect((await refused.json()).message).toMatch(/not valid UTF-8/)
    }
    // A title alone (its header, an empty body) is a notification; an empty body without one is not.
    expect((await post(Buffer.alloc(0), 'text/plain', 'Ping')).status).toBe(201)
    expect((await post(Buffer.alloc(0), 'text/plain')).status).toBe(400)
    const after = await admin.get('/api/topics/alerts.text/messages?since=0')
    expect(after.body.messages.map((m: { notification: { title: string } }) => m.notification.title)).toEqual(['Tëst ✓', 'Tëst', 'Ping'])
  })

  it('refuses a subscription without a read grant, and sends nothing else', async () => {
    const ws = await channel(outsider.token)
    const answer = await ws.request({ type: 'subscribe', topic: 'sensors.room1' })
    expect(answer).toMatchObject({ type: 'error', code: 'forbidden' })
    await publisher(server.url, source.token).post('/api/topics/sensors.room1/messages', { data: 'secret' })
    await new Promise(r => setTimeout(r, 300))
    expect(ws.frames.filter(f => f.type === 'message')).toEqual([])
    expect((await outsider.client.get('/api/topics/sensors.room1/messages')).status).toBe(403)
    expect((await outsider.client.post('/api/subscriptions', { topic: 'sensors.room1' })).status).toBe(403)
    await ws.close()
  })

  it('refuses a source outside its topic pattern', async () => {
    const rest = await publisher(server.url, source.token).post('/api/topics/billing.invoices/messages', { data: 1 })
    expect(rest.status).toBe(403)
    expect(rest.body.message).toMatch(/not allowed/)
    const producer = await datalink(source.token)
    const answer = await producer.request({ type: 'publish', topic: 'billing.invoices', data: 1 })
    expect(answer).toMatchObject({ type: 'error', code: 'forbidden' })
    await producer.close()
  })

  it('refuses an inactive source at once and lets it back in when reactivated', async () => {
    const own = await createActiveSource(admin, 'toggled', 'sensors.*')
    const ws = await channel(reader.token)
    await ws.request({ type: 'subscribe', topic: 'sensors.toggle' })
    const producer = await datalink(own.token)
    expect((await producer.request({ type: 'publish', topic: 'sensors.toggle', data: 1 })).type).toBe('ack')

    expect((await admin.post(`/api/admin/sources/${own.id}/deactivate`)).body.status).toBe('inactive')
    const closed = await producer.closed
    expect(closed.code).toBe(4001)
    expect(closed.reason).toMatch(/inactive/)
    expect((await publisher(server.url, own.token).post('/api/topics/sensors.toggle/messages', { data: 2 })).status).toBe(403)
    await expect(datalink(own.token)).rejects.toMatchObject({ status: 403 })

    expect((await admin.post(`/api/admin/sources/${own.id}/reactivate`)).body.status).toBe('active')
    expect((await publisher(server.url, own.token).post('/api/topics/sensors.toggle/messages', { data: 3 })).status).toBe(201)
    const again = await datalink(own.token)
    expect((await again.request({ type: 'publish', topic: 'sensors.toggle', data: 4 })).type).toBe('ack')
    const received = await ws.collect(f => f.type === 'message', 3)
    expect(received.map(f => f.data)).toEqual([1, 3, 4])
    await again.close()
    await ws.close()
  })

  it('gives one socket\'s messages to a topic their offsets in the order they were sent, notifications and plain alike', async () => {
    const ws = await channel(reader.token)
    await ws.request({ type: 'subscribe', topic: 'sensors.order' })
    const producer = await datalink(source.token)
    // A notification is stored before it takes its offset: a plain message sent after it overtook it.
    for (let i = 0; i < 20; i++) {
      producer.send({ type: 'publish', ref: i, topic: 'sensors.order', data: i, ...(i % 2 === 0 ? { notification: { title: `n${i}` } } : {}) })
    }
    const acks = await producer.collect(f => f.type === 'ack', 20)
    const byRef = acks.sort((a, b) => a.ref - b.ref).map(a => a.offset)
    expect(byRef).toEqual([...byRef].sort((a, b) => a - b))
    const received = await ws.collect(f => f.type === 'message', 20)
    expect(received.map(f => f.data)).toEqual([...Array(20).keys()])
    await producer.close()
    await ws.close()
  })

  it('reads a binary /datalink frame as UTF-8, and refuses one that is not instead of publishing it changed', async () => {
    const ws = await channel(reader.token)
    await ws.request({ type: 'subscribe', topic: 'sensors.binary' })
    const producer = await datalink(source.token)
    producer.ws.send(Buffer.from('{"type":"publish","ref":"ok","topic":"sensors.binary","data":"caf\u00e9 ✓"}'), { binary: true })
    expect(await producer.next(f => f.ref === 'ok')).toMatchObject({ type: 'ack' })
    producer.ws.send(Buffer.concat([Buffer.from('{"type":"publish","ref":"bad","topic":"sensors.binary","data":"caf'), Buffer.from([0xE9]), Buffer.from('"}')]), { binary: true })
    expect(await producer.next(f => f.type === 'error')).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/UTF-8/) })
    expect(await producer.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    const received = await ws.collect(f => f.type === 'message', 1)
    expect(received.map(f => f.data)).toEqual(['café ✓'])
    await producer.close()
    await ws.close()
  })

  it('takes over /datalink exactly the messages REST takes: the frame has room for its type, ref and topic', async () => {
    const producer = await datalink(source.token)
    const topic = `sensors.${'x'.repeat(100)}`
    // The largest REST body of a data string: 64 KiB.
    const data = 'd'.repeat(65536 - '{"data":""}'.length)
    const rest = (body: object) => publisher(server.url, source.token).post(`/api/topics/${topic}/messages`, body)
    expect((await rest({ data })).status).toBe(201)
    expect(await producer.request({ type: 'publish', ref: 'r'.repeat(128), topic, data })).toMatchObject({ type: 'ack' })
    // A byte more is too large either way.
    expect((await rest({ data: `${data}d` })).status).toBe(413)
    expect(await producer.request({ type: 'publish', ref: 'big', topic, data: `${data}d` })).toMatchObject({ type: 'error', code: 'payload_too_large', message: 'the message is larger than 65536 bytes' })
    // A binary frame that is not UTF-8 is refused with the ref that can be read in it.
    producer.ws.send(Buffer.concat([Buffer.from('{"type":"publish","ref":"latin","topic":"sensors.x","data":"'), Buffer.from([0xE9]), Buffer.from('"}')]), { binary: true })
    expect(await producer.next(f => f.ref === 'latin')).toMatchObject({ type: 'error', code: 'bad_request', message: 'frame is not valid UTF-8' })
    await producer.close()
  })

  it('answers every publish already sent when its source is deactivated, then closes with 4001', async () => {
    const own = await createActiveSource(admin, 'inflight', 'sensors.*')
    const producer = await datalink(own.token)
    expect((await producer.request({ type: 'publish', topic: 'sensors.inflight', data: 0 })).type).toBe('ack')
    for (let i = 1; i <= 40; i++) producer.send({ type: 'publish', ref: i, topic: 'sensors.inflight', data: i, notification: { title: `n${i}` } })
    const deactivated = admin.post(`/api/admin/sources/${own.id}/deactivate`)
    for (let i = 41; i <= 60; i++) producer.send({ type: 'publish', ref: i, topic: 'sensors.inflight', data: i })
    expect((await deactivated).status).toBe(200)
    const closed = await producer.closed
    expect(closed).toMatchObject({ code: 4001, reason: 'source inactive' })
    // Each one has its answer, so the producer knows which were published: those acked, and no other.
    const answers = producer.frames.filter(f => typeof f.ref === 'number')
    expect(answers.map(f => f.ref).sort((a, b) => a - b)).toEqual([...Array(60).keys()].map(i => i + 1))
    for (const refused of answers.filter(f => f.type === 'error')) expect(refused).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/not published: source inactive/) })
    const acked = answers.filter(f => f.type === 'ack').map(f => f.offset)
    const history = await reader.client.get('/api/topics/sensors.inflight/messages?since=1&limit=100')
    expect(history.body.messages.map((m: { offset: number }) => m.offset)).toEqual(acked.sort((a, b) => a - b))
  })

  it('rotating the token closes the old producers and refuses the old token', async () => {
    const own = await createActiveSource(admin, 'rotated', 'sensors.*')
    const producer = await datalink(own.token)
    const rotated = await admin.post(`/api/admin/sources/${own.id}/rotate-token`)
    expect(rotated.body.token).toMatch(/^msrc_/)
    expect((await producer.closed).code).toBe(4001)
    expect((await publisher(server.url, own.token).post('/api/topics/sensors.x/messages', { data: 1 })).status).toBe(401)
    expect((await publisher(server.url, rotated.body.token).post('/api/topics/sensors.x/messages', { data: 1 })).status).toBe(201)
    // Rotations at the same moment: one token is the source's; one that another rotation replaced
    // at the same moment is not handed out (that caller is told to rotate again). A second after
    // the last one: sooner, they count as sent at its moment too.
    await new Promise(resolve => setTimeout(resolve, 1100))
    const racing = await Promise.all([1, 2, 3, 4].map(() => admin.post(`/api/admin/sources/${own.id}/rotate-token`)))
    for (const answer of racing) {
      expect([200, 409]).toContain(answer.status)
      if (answer.status === 409) expect(answer.body.message).toMatch(/rotate again/)
    }
    const handedOut = racing.filter(r => r.status === 200).map(r => r.body.token as string)
    const working = []
    for (const token of handedOut) {
      if ((await publisher(server.url, token).post('/api/topics/sensors.x/messages', { data: 2 })).status === 201) working.push(token)
    }
    expect(working).toHaveLength(1)
    expect((await admin.post(`/api/admin/sources/${'0'.repeat(8)}-0000-0000-0000-000000000000/rotate-token`)).status).toBe(404)
  })

  it('hands out, of many rotations sent at once, only a token that works once they are all answered', async () => {
    const own = await createActiveSource(admin, 'rotated-at-once', 'sensors.*')
    for (let round = 0; round < 3; round++) {
      // Rotations a second apart are not at the same moment.
      if (round > 0) await new Promise(resolve => setTimeout(resolve, 1100))
      const answers = await Promise.all(Array.from({ length: 10 }, () => admin.post(`/api/admin/sources/${own.id}/rotate-token`)))
      expect([...new Set(answers.map(a => a.status))].filter(status => status !== 200 && status !== 409)).toEqual([])
      for (const refused of answers.filter(a => a.status === 409)) expect(refused.headers.get('retry-after')).toBe('1')
      const handedOut = answers.filter(a => a.status === 200).map(a => a.body.token as string)
      expect(handedOut.length).toBeGreaterThan(0)
      // A rotation answered 200 whose token another one replaced before it was used would leave
      // its caller with a dead token: only the last one may be answered 200.
      for (const token of handedOut) {
        expect((await publisher(server.url, token).post('/api/topics/sensors.x/messages', { data: round })).status, `round ${round}: ${handedOut.length} tokens handed out`).toBe(201)
      }
    }
  })

  it('answers 404 to lifecycle steps, rotations and changes of a source deleted at the same moment', async () => {
    for (let round = 0; round < 5; round++) {
      const own = await createActiveSource(admin, `deleted-at-once-${round}`, 'sensors.*')
      const [deleted, ...answers] = await Promise.all([
        admin.delete(`/api/admin/sources/${own.id}`),
        ...['deactivate', 'activate', 'reactivate', 'rotate-token'].flatMap(step => Array.from({ length: 4 }, () => admin.post(`/api/admin/sources/${own.id}/${step}`))),
        ...Array.from({ length: 4 }, (_, i) => admin.patch(`/api/admin/sources/${own.id}`, { description: `changed ${i}` })),
      ])
      expect(deleted.status).toBe(204)
      expect([...new Set(answers.map(a => a.status))].filter(status => ![200, 404, 409].includes(status)), JSON.stringify(answers.map(a => a.body))).toEqual([])
      for (const refused of answers.filter(a => a.status === 404)) expect(refused.body.message).toBe('Source not found')
    }
  })
})

describe('stored subscriptions and the inbox', () => {
  it('joins stored subscriptions on open and live after POST /api/subscriptions', async () => {
    const viewer = await createReader(admin, 'viewer', 'sensors.*')
    const before = await channel(viewer.token)
    expect((await viewer.client.post('/api/subscriptions', { topic: 'sensors.stored', push: false })).status).toBe(201)
    // An open connection follows the new subscription…
    await new Promise(r => setTimeout(r, 200))
    await publisher(server.url, source.token).post('/api/topics/sensors.stored/messages', { data: 'a' })
    expect((await before.next(f => f.type === 'message')).data).toBe('a')
    // …and a new one joins it on open, without a subscribe frame.
    const after = await channel(viewer.token)
    await new Promise(r => setTimeout(r, 200))
    await publisher(server.url, source.token).post('/api/topics/sensors.stored/messages', { data: 'b' })
    expect((await after.next(f => f.type === 'message')).data).toBe('b')
    expect((await viewer.client.get('/api/subscriptions')).body).toEqual([{ topic: 'sensors.stored', push: false, createdAt: expect.any(String), readable: true }])
    // Posting again without push leaves it as it is.
    expect((await viewer.client.post('/api/subscriptions', { topic: 'sensors.stored' })).body).toMatchObject({ push: false })
    const topics = await viewer.client.get('/api/topics')
    expect(topics.body.find((t: { name: string }) => t.name === 'sensors.stored')).toMatchObject({ subscribed: true, push: false })
    expect(topics.body.some((t: { name: string }) => t.name.startsWith('alerts.'))).toBe(false)

    expect((await viewer.client.delete('/api/subscriptions/sensors.stored')).status).toBe(204)
    expect((await viewer.client.delete('/api/subscriptions/sensors.stored')).status).toBe(404)
    // Open connections stop following it, and say so.
    for (const ws of [before, after]) expect(await ws.next(f => f.type === 'unsubscribed')).toEqual({ type: 'unsubscribed', topic: 'sensors.stored' })
    await publisher(server.url, source.token).post('/api/topics/sensors.stored/messages', { data: 'c' })
    await new Promise(r => setTimeout(r, 200))
    for (const ws of [before, after]) expect(ws.frames.some(f => f.type === 'message' && f.data === 'c')).toBe(false)
    await before.close()
    await after.close()
    // A new subscription without push has it on.
    expect((await viewer.client.post('/api/subscriptions', { topic: 'sensors.other' })).body).toMatchObject({ push: true })
  })

  it('a topic a live view follows says so again, unasked, once it is stored; read access given back rejoins it at once', async () => {
    const viewer = await createReader(admin, 'regranted', null)
    const grant = await admin.post('/api/admin/grants', { userId: viewer.id, topic: 'sensors.*', read: true })
    const ws = await channel(viewer.token)
    expect(await ws.request({ type: 'subscribe', topic: 'sensors.viewed', ref: 'view' })).toMatchObject({ type: 'subscribed', ref: 'view' })
    expect((await viewer.client.post('/api/subscriptions', { topic: 'sensors.viewed', push: false })).status).toBe(201)
    // Unasked (no ref), as when a stored subscription is joined: the client knows it is stored now.
    expect(await ws.next(f => f.type === 'subscribed')).toEqual({ type: 'subscribed', topic: 'sensors.viewed', offset: 0, recovered: true })
    const sensors = publisher(server.url, source.token)
    await sensors.post('/api/topics/sensors.viewed/messages', { data: 'once' })
    expect(await ws.next(f => f.type === 'message')).toMatchObject({ data: 'once', offset: 1 })

    // Read access taken, then given back (another grant): the open socket leaves the stored
    // subscription, then joins it again and gets what is published after.
    expect((await admin.delete(`/api/admin/grants/${grant.body.id}`)).status).toBe(204)
    expect(await ws.next(f => f.type === 'unsubscribed')).toEqual({ type: 'unsubscribed', topic: 'sensors.viewed' })
    await sensors.post('/api/topics/sensors.viewed/messages', { data: 'while revoked' })
    expect((await admin.post('/api/admin/grants', { userId: viewer.id, topic: 'sensors.viewed', read: true })).status).toBe(201)
    expect(await ws.next(f => f.type === 'subscribed')).toEqual({ type: 'subscribed', topic: 'sensors.viewed', offset: 2, recovered: true })
    await sensors.post('/api/topics/sensors.viewed/messages', { data: 'given back' })
    expect(await ws.next(f => f.type === 'message')).toMatchObject({ data: 'given back', offset: 3 })
    expect(ws.frames.filter(f => f.type === 'message').map(f => f.data)).toEqual(['once', 'given back'])
    // Left on this connection with an unsubscribe, it stays left through other grant changes.
    expect(await ws.request({ type: 'unsubscribe', topic: 'sensors.viewed' })).toMatchObject({ type: 'unsubscribed' })
    const unrelated = await admin.post('/api/admin/grants', { userId: viewer.id, topic: 'alerts.other', read: true })
    expect(unrelated.status).toBe(201)
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(await ws.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    expect(ws.frames.filter(f => f.type === 'subscribed')).toHaveLength(3) // asked, stored, given back
    await ws.close()
  })

  it('puts notifications in the inbox of subscribed readers only, and syncs read state', async () => {
    const alice = await createReader(admin, 'inbox-alice', 'alerts.*')
    const bob = await createReader(admin, 'inbox-bob', 'alerts.*')
    await alice.client.post('/api/subscriptions', { topic: 'alerts.cpu' })
    // bob may read but is not subscribed; outsider is subscribed to nothing it may read.
    const res = await publisher(server.url, source.token).post('/api/topics/alerts.cpu/messages', {
      event: 'alert', data: { load: 9.5 }, notification: { title: 'CPU high', body: 'load 9.5', url: '/hosts/1', priority: 5 },
    })
    expect(res.status).toBe(201)
    await publisher(server.url, source.token).post('/api/topics/alerts.cpu/messages', { data: 'no notification' })

    const inbox = await alice.client.get('/api/inbox')
    expect(inbox.body.items).toHaveLength(1)
    expect(inbox.body.items[0]).toMatchObject({
      id: res.body.id, topic: 'alerts.cpu', offset: res.body.offset, title: 'CPU high', body: 'load 9.5',
      url: '/hosts/1', priority: 5, data: { load: 9.5 }, readAt: null,
    })
    expect(inbox.body.unread).toBe(1)
    expect((await bob.client.get('/api/inbox')).body.items).toEqual([])
    expect((await alice.client.get('/api/inbox?q=cpu')).body.items).toHaveLength(1)
    expect((await alice.client.get('/api/inbox?q=nothing-like-it')).body.items).toHaveLength(0)

    const otherDevice = await channel(alice.token)
    await otherDevice.request({ type: 'ping' }) // registered before the read happens
    const read = await alice.client.post('/api/inbox/read', { ids: [res.body.id] })
    expect(read.body.updated).toBe(1)
    expect(await otherDevice.next(f => f.type === 'read')).toMatchObject({ ids: [res.body.id] })
    expect((await alice.client.get('/api/inbox?unread=true')).body.items).toEqual([])
    expect((await alice.client.post('/api/inbox/read', { ids: 'x' })).status).toBe(400)
    expect((await alice.client.post('/api/inbox/read', { ids: [res.body.id], all: true })).status).toBe(400)
    // A read that changes nothing tells no one; one by inbox item id (given twice) names the
    // notification, once.
    expect((await alice.client.post('/api/inbox/read', { ids: [res.body.id, 'unknown'] })).body.updated).toBe(0)
    const second = await publisher(server.url, source.token).post('/api/topics/alerts.cpu/messages', { notification: { title: 'CPU high again' } })
    const item = (await alice.client.get('/api/inbox?unread=true')).body.items[0]
    expect(item).toMatchObject({ id: second.body.id, itemId: expect.any(String) })
    expect((await alice.client.post('/api/inbox/read', { ids: [item.itemId, item.itemId] })).body.updated).toBe(1)
    expect((await alice.client.post('/api/inbox/read', { all: true })).body.updated).toBe(0)
    await otherDevice.request({ type: 'ping' })
    expect(otherDevice.frames.filter(f => f.type === 'read').map(f => f.ids)).toEqual([[res.body.id], [second.body.id]])

    // "Mark all read" up to what the device had seen: what was published after stays unread.
    const seen = await publisher(server.url, source.token).post('/api/topics/alerts.cpu/messages', { notification: { title: 'Seen' } })
    const seenAt = (await alice.client.get('/api/inbox?unread=true')).body.items[0].createdAt as string
    await new Promise(resolve => setTimeout(resolve, 5))
    const unseen = await publisher(server.url, source.token).post('/api/topics/alerts.cpu/messages', { notification: { title: 'Not seen yet' } })
    for (const upTo of ['yesterday', 12, '2026-13-01T00:00:00Z', null]) {
      const bad = await alice.client.post('/api/inbox/read', { all: true, upTo })
      expect(bad.status).toBe(400)
      expect(JSON.stringify(bad.body)).toContain('upTo')
    }
    expect((await alice.client.post('/api/inbox/read', { ids: [seen.body.id], upTo: seenAt })).status).toBe(400)
    expect((await alice.client.post('/api/inbox/read', { all: true, upTo: seenAt })).body.updated).toBe(1)
    expect(await otherDevice.next(f => f.type === 'read' && f.all === true)).toMatchObject({ all: true, upTo: seenAt })
    expect((await alice.client.get('/api/inbox?unread=true')).body.items.map((i: { id: string }) => i.id)).toEqual([unseen.body.id])
    // A cut-off in another time zone's spelling means the same instant.
    const shifted = new Date(Date.parse(seenAt) + 3_600_000).toISOString().replace('Z', '+01:00')
    expect((await alice.client.post('/api/inbox/read', { all: true, upTo: shifted })).body.updated).toBe(0)
    expect((await alice.client.post('/api/inbox/read', { all: true })).body.updated).toBe(1)
    await otherDevice.close()
  })

  it('serves topic history after an offset', async () => {
    const producer = await datalink(source.token)
    for (let i = 0; i < 5; i++) await producer.request({ type: 'publish', topic: 'sensors.hist', data: i })
    const res = await reader.client.get('/api/topics/sensors.hist/messages?since=2&limit=2')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ topic: 'sensors.hist', offset: 5, recovered: true })
    expect(res.body.messages.map((m: { offset: number }) => m.offset)).toEqual([3, 4])
    expect((await reader.client.get('/api/topics/sensors.hist/messages?since=-1')).status).toBe(400)
    await producer.close()
  })
})

describe('bad input', () => {
  it('accepts the session cookie on /channel', async () => {
    const ws = await TestSocket.open(`${server.url}/channel`, { headers: { cookie: reader.client.cookie } })
    expect(await ws.request({ type: 'subscribe', topic: 'sensors.cookie' })).toMatchObject({ type: 'subscribed' })
    await ws.close()
    await expect(TestSocket.open(`${server.url}/channel`, { headers: { cookie: 'mercury-session=forged' } })).rejects.toMatchObject({ status: 401 })
  })

  it('answers bad /channel frames with error frames and keeps the connection; others never notice', async () => {
    const bystander = await channel(reader.token)
    await bystander.request({ type: 'subscribe', topic: 'sensors.calm' })
    const ws = await channel(reader.token)
    const cases: [unknown, string][] = [
      ['not json', 'bad_request'],
      ['[1,2]', 'bad_request'],
      [{ type: 'dance', ref: 1 }, 'bad_request'],
      [{ type: 'subscribe', ref: 2 }, 'bad_request'],
      [{ type: 'subscribe', topic: 42, ref: 3 }, 'bad_request'],
      [{ type: 'subscribe', topic: 'bad topic!', ref: 4 }, 'bad_request'],
      [{ type: 'subscribe', topic: 'sensors.a', since: -5, ref: 5 }, 'bad_request'],
      [{ type: 'subscribe', topic: 'sensors.a', ref: 'x'.repeat(20_000) }, 'payload_too_large'],
      // The limit is in bytes: 6,000 "€" are 18,000 of them.
      [{ type: 'ping', ref: '€'.repeat(6000) }, 'payload_too_large'],
    ]
    for (const [frame, code] of cases) {
      ws.send(frame)
      const error = await ws.next(f => f.type === 'error')
      expect(error.code, JSON.stringify(frame).slice(0, 80)).toBe(code)
      if (typeof frame === 'object' && frame && 'ref' in frame && typeof frame.ref === 'number') expect(error.ref).toBe(frame.ref)
    }
    // A bad ref is named as such, not taken for an unknown type.
    for (const ref of [{}, null]) {
      ws.send({ type: 'ping', ref })
      expect(await ws.next(f => f.type === 'error')).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/^ref: must be a string/) })
    }
    // A refused ref is not echoed: neither changed (1e400 would go out as null) nor as sent.
    for (const frame of ['{"type":"ping","ref":1e400}', '{"type":"ping","ref":12345678901234567891}', JSON.stringify({ type: 'ping', ref: 'x'.repeat(129) }), JSON.stringify({ type: 'ping', ref: 'a\u0000b' })]) {
      ws.send(frame)
      const error = await ws.next(f => f.type === 'error')
      expect(error, frame.slice(0, 40)).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/^ref: /) })
      expect(error, frame.slice(0, 40)).not.toHaveProperty('ref')
    }
    ws.send({ type: 'dance' })
    expect((await ws.next(f => f.type === 'error')).message).toMatch(/unknown frame type "dance"/)
    expect(await ws.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    await publisher(server.url, source.token).post('/api/topics/sensors.calm/messages', { data: 'calm' })
    expect(await bystander.next(f => f.type === 'message')).toMatchObject({ data: 'calm' })
    expect(bystander.frames.filter(f => f.type === 'error')).toEqual([])
    await ws.close()
    await bystander.close()
  })

  it('answers bad /datalink frames with error frames carrying the ref', async () => {
    const producer = await datalink(source.token)
    const cases: [unknown, string][] = [
      [{ type: 'publish', ref: 'a' }, 'bad_request'],
      [{ type: 'publish', ref: 'b', topic: 'sensors.x', notification: { body: 'no title' } }, 'bad_request'],
      [{ type: 'publish', ref: 'c', topic: 'sensors.x', notification: { title: 't', priority: 9 } }, 'bad_request'],
      [{ type: 'publish', ref: 'd', topic: 'sensors.x', data: 'x'.repeat(70 * 1024) }, 'payload_too_large'],
      // 60,000 "€": 180,000 bytes in 60,000 characters.
      [{ type: 'publish', ref: 'd2', topic: 'sensors.x', data: '€'.repeat(60_000) }, 'payload_too_large'],
      [{ type: 'subscribe', ref: 'e', topic: 'sensors.x' }, 'bad_request'],
    ]
    for (const [frame, code] of cases) {
      const answer = await producer.request(frame as Record<string, unknown>)
      expect(answer).toMatchObject({ type: 'error', code })
    }
    producer.send('{oops')
    expect(await producer.next(f => f.type === 'error')).toMatchObject({ code: 'bad_request' })
    // Only a ref the frame may carry comes back: a refused one is left out, never changed or echoed.
    for (const ref of ['1e400', JSON.stringify('y'.repeat(129)), '"nul\\u0000"']) {
      producer.send(`{"type":"publish","topic":"sensors.x","data":1,"ref":${ref}}`)
      const error = await producer.next(f => f.type === 'error')
      expect(error, ref.slice(0, 20)).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/^ref: /) })
      expect(error, ref.slice(0, 20)).not.toHaveProperty('ref')
    }
    expect((await producer.request({ type: 'publish', topic: 'sensors.x', data: 'still fine' })).type).toBe('ack')
    await producer.close()
  })

  it('takes the Authorization header over ?token= on both sockets, as REST takes it over the cookie', async () => {
    const ws = await TestSocket.open(`${server.url}/channel`, { token: outsider.token, headers: { authorization: `Bearer ${reader.token}` } })
    expect(await ws.request({ type: 'subscribe', topic: 'sensors.both' })).toMatchObject({ type: 'subscribed' })
    await ws.close()
    const producer = await TestSocket.open(`${server.url}/datalink`, { token: 'msrc_nope', headers: { authorization: `Bearer ${source.token}` } })
    expect(await producer.request({ type: 'publish', topic: 'sensors.both', data: 1 })).toMatchObject({ type: 'ack' })
    await producer.close()
  })

  it('refuses bad and revoked tokens at the upgrade', async () => {
    await expect(channel('mpat_nope')).rejects.toMatchObject({ status: 401 })
    await expect(TestSocket.open(`${server.url}/channel`)).rejects.toMatchObject({ status: 401 })
    await expect(datalink('msrc_nope')).rejects.toMatchObject({ status: 401 })
    await expect(TestSocket.open(`${server.url}/datalink`)).rejects.toMatchObject({ status: 401 })
    const draft = await admin.post('/api/admin/sources', { name: 'drafty' })
    await expect(datalink(draft.body.token)).rejects.toMatchObject({ status: 403 })
  })

  it('a source deleted while it streams notifications refuses the rest as its own refusal, never as a server fault', async () => {
    const doomed = await createActiveSource(admin, 'doomed', ['doomed.*'])
    const producer = await datalink(doomed.token)
    const rest = publisher(server.url, doomed.token)
    // Streams until it is closed: some publishes are on their way when the deletion commits.
    let sent = 0
    const stream = setInterval(() => {
      for (let i = 0; i < 20; i++) producer.send(JSON.stringify({ type: 'publish', ref: sent++, topic: 'doomed.t', notification: { title: `n${sent}` } }))
    }, 2)
    const posts: Promise<{ status: number }>[] = []
    // At most 10 under way: a loaded machine would otherwise pile up connections until they time out.
    let inFlight = 0
    const restStream = setInterval(() => {
      if (inFlight >= 10) return
      inFlight++
      posts.push(rest.post('/api/topics/doomed.t/messages', { notification: { title: 'rest' } }).finally(() => inFlight--))
    }, 5)
    await producer.next(f => f.type === 'ack')
    await new Promise(resolve => setTimeout(resolve, 100))
    expect((await admin.delete(`/api/admin/sources/${doomed.id}`)).status).toBe(204)
    const closed = await producer.closed
    clearInterval(stream)
    clearInterval(restStream)
    expect(closed.code).toBe(4001)
    const answers = producer.frames.filter(f => f.type === 'ack' || f.type === 'error')
    expect(answers.filter(f => f.type === 'error' && !['unauthorized', 'rate_limited'].includes(f.code))).toEqual([])
    for (const res of await Promise.all(posts)) expect([201, 401, 429]).toContain(res.status)
  })

  it('refuses a number a double cannot carry exactly rather than deliver it changed, over REST and /datalink', async () => {
    const pub = publisher(server.url, source.token)
    const post = (body: string) => pub.post('/api/topics/sensors.exact/messages', body, { raw: true, headers: { 'content-type': 'application/json' } })
    const refused: [string, string][] = [
      ['{"data":{"id":9007199254740993}}', 'data.id: is a number a double cannot carry exactly (9007199254740993 would arrive as 9007199254740992): send such numbers as strings'],
      ['{"data":{"ids":[1,-1234567890123456789]}}', 'data.ids[1]: is a number a double cannot carry exactly (-1234567890123456789 would arrive as -1234567890123456800): send such numbers as strings'],
      ['{"data":{"tiny":1e-400}}', 'data.tiny: is a number a double cannot carry exactly (1e-400 would arrive as 0): send such numbers as strings'],
      [`{"notification":{"title":"t","weight":-0.${'0'.repeat(400)}1}}`, `notification.weight: is a number a double cannot carry exactly (-0.${'0'.repeat(27)}… would arrive as 0): send such numbers as strings`],
    ]
    for (const [body, message] of refused) {
      const res = await post(body)
      expect(res.status, body.slice(0, 40)).toBe(400)
      expect(res.body.message, body.slice(0, 40)).toMatch(`Invalid message: ${message}`)
    }
    const producer = await datalink(source.token)
    producer.send('{"type":"publish","topic":"sensors.exact","ref":"big","data":{"snowflake":1234567890123456789}}')
    expect(await producer.next(f => f.ref === 'big')).toMatchObject({ type: 'error', code: 'bad_request', message: expect.stringMatching(/^data\.snowflake: is a number a double cannot carry exactly .*send such numbers as strings$/) })
    // Rounded decimals are JSON's numbers as ever; exact integers, however large, and -0 (as 0) go through.
    const ws = await channel(reader.token)
    await ws.request({ type: 'subscribe', topic: 'sensors.exact' })
    const exact = '{"a":0.1,"b":1.0,"c":1e2,"d":9007199254740992,"e":-9007199254740991,"f":18014398509481984,"g":1.5e300,"h":"12345678901234567890","i":-0,"j":0e-999}'
    const expected = { a: 0.1, b: 1, c: 100, d: 2 ** 53, e: -(2 ** 53 - 1), f: 2 ** 54, g: 1.5e300, h: '12345678901234567890', i: 0, j: 0 }
    expect((await post(`{"data":${exact}}`)).status).toBe(201)
    producer.send(`{"type":"publish","topic":"sensors.exact","ref":"exact","data":${exact}}`)
    expect(await producer.next(f => f.ref === 'exact')).toMatchObject({ type: 'ack' })
    expect((await ws.collect(f => f.type === 'message', 2)).map(f => f.data)).toEqual([expected, expected])
    expect((await reader.client.get('/api/topics/sensors.exact/messages')).body.messages.map((m: { data: unknown }) => m.data)).toEqual([expected, expected])
    await Promise.all([producer.close(), ws.close()])
  })

  it('answers bad REST publishes with 4xx', async () => {
    const pub = publisher(server.url, source.token)
    expect((await pub.post('/api/topics/bad%20topic/messages', { data: 1 })).status).toBe(400)
    expect((await pub.post('/api/topics/sensors.x/messages', '{bad', { raw: true, headers: { 'content-type': 'application/json' } })).status).toBe(400)
    // A body must be an object: JSON null, an array or a number is not a message.
    for (const body of ['null', '[]', '42', '"text"']) {
      const refused = await pub.post('/api/topics/sensors.nobody/messages', body, { raw: true, headers: { 'content-type': 'application/json' } })
      expect(refused.status).toBe(400)
      expect(refused.body.message).toMatch(/^Invalid message/)
    }
    // A number JSON cannot carry would go out changed (as null): refused, over /datalink too.
    const huge = await pub.post('/api/topics/sensors.nobody/messages', '{"data":{"reading":[1,1e400]}}', { raw: true, headers: { 'content-type': 'application/json' } })
    expect(huge.status).toBe(400)
    expect(huge.body.message).toBe('Invalid message: data.reading[1]: is a number too large for JSON')
    const producer = await datalink(source.token)
    producer.send('{"type":"publish","topic":"sensors.nobody","data":-1e999,"ref":"huge"}')
    expect(await producer.next(f => f.ref === 'huge')).toMatchObject({ type: 'error', code: 'bad_request', message: 'data: is a number too large for JSON' })
    // Numbers are written out in full: a body within the limit must not make a message beyond it.
    const expanding = `{"data":[${Array(13_000).fill('1e20').join(',')}]}`
    expect(Buffer.byteLength(expanding)).toBeLessThan(64 * 1024)
    const expanded = await pub.post('/api/topics/sensors.nobody/messages', expanding, { raw: true, headers: { 'content-type': 'application/json' } })
    expect(expanded.status).toBe(413)
    expect(expanded.body.message).toMatch(/once serialized/)
    producer.send(`{"type":"publish","topic":"sensors.nobody","data":[${Array(13_000).fill('1e20').join(',')}],"ref":"expands"}`)
    expect(await producer.next(f => f.ref === 'expands')).toMatchObject({ type: 'error', code: 'payload_too_large' })
    // Topics of dots alone cannot be read back through a URL (clients drop ./..): not names.
    for (const topic of ['.', '..', '...']) {
      expect(await producer.request({ type: 'publish', topic, data: 1 }), topic).toMatchObject({ type: 'error', code: 'bad_request', message: expect.stringMatching(/not dots alone/) })
    }
    await producer.close()
    // A Priority header that is not 1-5 says so.
    for (const priority of ['high', '', '0', '6']) {
      const refused = await pub.post('/api/topics/sensors.nobody/messages', 'text', { raw: true, headers: { 'content-type': 'text/plain', 'priority': priority } })
      expect(refused.status, priority).toBe(400)
      expect(refused.body.message).toBe(`The Priority header must be a number from 1 to 5, got "${priority}"`)
    }
    expect((await reader.client.get('/api/topics/sensors.nobody/messages')).body.messages).toEqual([])
    expect((await pub.post('/api/topics/sensors.x/messages', { notification: { title: '' } })).status).toBe(400)
    expect((await pub.post('/api/topics/sensors.x/messages', { data: 'x'.repeat(70 * 1024) })).status).toBe(413)
    expect((await pub.post('/api/topics/sensors.x/messages', '<xml/>', { raw: true, headers: { 'content-type': 'application/xml' } })).status).toBe(415)
    expect((await new ApiClient(server.url).post('/api/topics/sensors.x/messages', { data: 1 })).status).toBe(401)
    const wrong = new ApiClient(server.url)
    wrong.token = 'msrc_wrong'
    expect((await wrong.post('/api/topics/sensors.x/messages', { data: 1 })).status).toBe(401)
  })
})

describe('admin sources API', () => {
  it('creates, reads, edits and deletes sources; the token is shown once', async () => {
    const created = await admin.post('/api/admin/sources', { name: 'crud', description: 'a test', topics: 'a.*, b' })
    expect(created.status).toBe(201)
    expect(created.body.source).toMatchObject({ name: 'crud', description: 'a test', status: 'draft', topics: 'a.*,b', messageCount: 0 })
    expect(created.body.token).toMatch(/^msrc_/)
    expect(JSON.stringify(created.body.source)).not.toContain(created.body.token)
    const id = created.body.source.id
    expect((await admin.get(`/api/admin/sources/${id}`)).body.name).toBe('crud')
    expect((await admin.get('/api/admin/sources')).body.some((s: { id: string }) => s.id === id)).toBe(true)
    expect((await admin.patch(`/api/admin/sources/${id}`, { topics: ['c.*'] })).body.topics).toBe('c.*')
    expect((await admin.post('/api/admin/sources', { name: 'crud' })).status).toBe(409)
    expect((await admin.post(`/api/admin/sources/${id}/reactivate`)).status).toBe(409)
    expect((await admin.post('/api/admin/sources', { name: 'defaults' })).body.source).toMatchObject({ topics: '*', description: '', status: 'draft' })
    expect((await admin.post('/api/admin/sources', { name: '' })).status).toBe(400)
    expect((await admin.post('/api/admin/sources', { name: 'x', topics: 'bad pattern!' })).status).toBe(400)
    expect((await admin.delete(`/api/admin/sources/${id}`)).status).toBe(204)
    expect((await admin.get(`/api/admin/sources/${id}`)).status).toBe(404)
    expect((await admin.post(`/api/admin/sources/${id}/activate`)).status).toBe(404)
    expect((await reader.client.get('/api/admin/sources')).status).toBe(403)
  })

  it('tells every admin\'s open /channel about source changes, and nobody else', async () => {
    const adminToken = (await new ApiClient(server.url).login('admin', ADMIN_PASSWORD)).body.token
    const adminView = await channel(adminToken)
    const userView = await channel(reader.token)
    try {
      await new Promise(r => setTimeout(r, 100))
      // Admin views also get metrics every second: look at the source events only.
      const sourceEvent = () => adminView.next(f => f.type === 'admin' && f.entity === 'source')
      const created = await admin.post('/api/admin/sources', { name: 'watched' })
      expect(await sourceEvent()).toMatchObject({ entity: 'source', action: 'created', id: created.body.source.id, source: { name: 'watched', status: 'draft' } })
      await admin.post(`/api/admin/sources/${created.body.source.id}/activate`)
      expect(await sourceEvent()).toMatchObject({ action: 'activate', source: { status: 'active' } })
      await admin.delete(`/api/admin/sources/${created.body.source.id}`)
      expect(await sourceEvent()).toMatchObject({ action: 'deleted', source: null })
      expect(userView.frames.filter(f => f.type === 'admin')).toEqual([])
    }
    finally {
      await adminView.close()
      await userView.close()
    }
  })

  it('counts messages per source and per topic, adding up over several writes', async () => {
    const own = await createActiveSource(admin, 'counted', 'sensors.*')
    const publish = (body: object) => publisher(server.url, own.token).post('/api/topics/sensors.count/messages', body)
    const counts = async () => {
      const source = (await admin.get(`/api/admin/sources/${own.id}`)).body
      const topic = (await admin.get('/api/topics')).body.find((t: { name: string }) => t.name === 'sensors.count')
      return { messages: source.messageCount, notifications: source.notificationCount, topic: topic?.messageCount }
    }
    for (let i = 0; i < 3; i++) await publish({ data: i })
    await expect.poll(counts, { timeout: 5000 }).toEqual({ messages: 3, notifications: 0, topic: 3 })
    const source = (await admin.get(`/api/admin/sources/${own.id}`)).body
    expect(source.lastSeenAt).not.toBeNull()
    // Counters are written every two seconds: these land in a later write, added to the first.
    await publish({ data: 3 })
    await publish({ data: 4, notification: { title: 'counted' } })
    await expect.poll(counts, { timeout: 5000 }).toEqual({ messages: 5, notifications: 1, topic: 5 })
    const topic = (await admin.get('/api/topics')).body.find((t: { name: string }) => t.name === 'sensors.count')
    expect(Date.parse(topic.lastMessageAt)).toBeGreaterThanOrEqual(Date.parse(source.lastSeenAt))
  })
})

describe('user API at the same moment and at its limits', () => {
  it('marks up to 1,000 ids read in one request', async () => {
    const user = await createReader(admin, 'bulkreader', 'sensors.*')
    await user.client.post('/api/subscriptions', { topic: 'sensors.bulk' })
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await publisher(server.url, source.token).post('/api/topics/sensors.bulk/messages', { notification: { title: `b${i}` } })).body.id)
    const padding = Array.from({ length: 995 }, (_, i) => `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`)
    const res = await user.client.post('/api/inbox/read', { ids: [...padding, ...ids] })
    expect(res.status).toBe(200)
    expect(res.body.updated).toBe(5)
    expect((await user.client.get('/api/inbox')).body.unread).toBe(0)
  })

  it('tells the user\'s sockets of each id turned read once, also when two devices mark it at the same moment', async () => {
    const user = await createReader(admin, 'tworeaders', 'sensors.*')
    await user.client.post('/api/subscriptions', { topic: 'sensors.twice' })
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await publisher(server.url, source.token).post('/api/topics/sensors.twice/messages', { notification: { title: `t${i}` } })).body.id)
    const ws = await channel(user.token)
    await ws.next(f => f.type === 'subscribed')
    const answers = await Promise.all([1, 2, 3, 4].map(() => user.client.post('/api/inbox/read', { ids })))
    expect(answers.map(a => a.body.updated).reduce((a, b) => a + b, 0)).toBe(3)
    await ws.next(f => f.type === 'read')
    expect(await ws.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    const announced = ws.frames.filter(f => f.type === 'read').flatMap(f => f.ids as string[])
    expect(announced.sort()).toEqual([...ids].sort())
    await ws.close()
  })

  it('takes the same subscription sent at once from several clients as one, and says subscribed once', async () => {
    const user = await createReader(admin, 'racer', 'sensors.*')
    const ws = await channel(user.token)
    const answers = await Promise.all([1, 2, 3, 4].map(() => user.client.post('/api/subscriptions', { topic: 'sensors.race' })))
    expect(answers.map(a => a.status)).toEqual([201, 201, 201, 201])
    // Sent again (push turned off): a change of push is nothing to the sockets.
    expect((await user.client.post('/api/subscriptions', { topic: 'sensors.race', push: false })).body).toMatchObject({ topic: 'sensors.race', push: false })
    await ws.next(f => f.type === 'subscribed')
    expect(await ws.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    expect(ws.frames.filter(f => f.type === 'subscribed')).toHaveLength(1)
    expect((await user.client.get('/api/subscriptions')).body.filter((sub: { topic: string }) => sub.topic === 'sensors.race')).toHaveLength(1)
    await ws.close()
  })

  it('searches for a backslash as typed, and finds "İstanbul" with "istanbul", on every database', async () => {
    const user = await createReader(admin, 'searcher', 'sensors.*')
    await user.client.post('/api/subscriptions', { topic: 'sensors.search' })
    for (const title of ['C:\\temp\\log', 'İstanbul office', 'Kelvin \u212A scale', 'plain']) {
      await publisher(server.url, source.token).post('/api/topics/sensors.search/messages', { notification: { title } })
    }
    const titles = async (q: string) => (await user.client.get(`/api/inbox?q=${encodeURIComponent(q)}`)).body.items.map((i: { title: string }) => i.title)
    expect(await titles('\\temp')).toEqual(['C:\\temp\\log'])
    expect(await titles('\\')).toEqual(['C:\\temp\\log'])
    expect(await titles('istanbul')).toEqual(['İstanbul office'])
    expect(await titles('kelvin k')).toEqual(['Kelvin \u212A scale'])
    expect(await titles('plain')).toEqual(['plain'])
  })

  it('lists at most 1,000 topics, the most recently active, and every subscribed one', async () => {
    const lister = await createReader(admin, 'lister', 'sensors.many.*')
    const producer = await datalink(source.token)
    expect((await producer.request({ type: 'publish', topic: 'sensors.many.first', data: 0 })).type).toBe('ack')
    expect((await lister.client.post('/api/subscriptions', { topic: 'sensors.many.first' })).status).toBe(201)
    // Its count is written first: the others, written later, are more recent.
    await expect.poll(async () => (await lister.client.get('/api/topics')).body[0]?.messageCount, { timeout: 5000 }).toBe(1)
    for (let i = 0; i < 1050; i++) producer.send({ type: 'publish', ref: i, topic: `sensors.many.t${String(i).padStart(4, '0')}`, data: i })
    await producer.collect(f => f.type === 'ack' && typeof f.ref === 'number', 1050)
    await producer.close()
    await expect.poll(async () => (await lister.client.get('/api/topics')).body.length, { timeout: 5000 }).toBe(1001)
    const topics = (await lister.client.get('/api/topics')).body as { name: string, subscribed: boolean }[]
    expect(topics.find(t => t.name === 'sensors.many.first')).toMatchObject({ subscribed: true })
    expect(topics.map(t => t.name)).toEqual([...topics.map(t => t.name)].sort())
  })

  it('leaves out of the inbox a notification that has not taken its offset yet', async () => {
    const user = await createReader(admin, 'early', 'sensors.*')
    await user.client.post('/api/subscriptions', { topic: 'sensors.early' })
    const seen = (await publisher(server.url, source.token).post('/api/topics/sensors.early/messages', { notification: { title: 'out' } })).body
    // As a notification is between its storing and its offset (written a moment later).
    const insert = async (id: string, createdAt: Date) => {
      const at = server.db.url.startsWith('file:') ? createdAt.toISOString().replace('Z', '+00:00') : createdAt
      await runSql(server.db, 'INSERT INTO "Notification" ("id", "topic", "offset", "event", "title", "body", "priority", "createdAt") VALUES ($1, $2, 0, $3, $4, $5, 3, $6)', [id, 'sensors.early', 'message', id, '', at])
      await runSql(server.db, 'INSERT INTO "InboxItem" ("id", "userId", "notificationId", "createdAt") VALUES ($1, $2, $3, $4)', [`item-${id}`, user.id, id, at])
    }
    await insert('pending-now', new Date())
    await insert('pending-long-ago', new Date(Date.now() - 60_000))
    const inbox = (await user.client.get('/api/inbox')).body
    expect(inbox.items.map((i: { id: string, title: string }) => i.title)).toEqual(['out', 'pending-long-ago'])
    expect(inbox.items[0].id).toBe(seen.id)
    expect(inbox.unread).toBe(2)
  })
})

describe('connection hygiene', () => {
  it('leaves nothing behind after 1,000 connect/subscribe/disconnect cycles', async () => {
    const before = (await admin.get('/api/admin/metrics')).body.hub
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const ws = await channel(reader.token)
        await ws.request({ type: 'subscribe', topic: `sensors.cycle${(batch * 50 + i) % 37}` })
        if (i % 2) ws.ws.terminate()
        else await ws.close()
      }))
    }
    await expect.poll(async () => (await admin.get('/api/admin/metrics')).body.hub, { timeout: 5000 }).toEqual(before)
    expect(before).toMatchObject({ connections: 0, topics: 0 })
  })

  it('leaves nothing behind when sockets close right after their subscribe, before it is answered', async () => {
    // The subscribes arrive while the server still loads each user's permissions (on PostgreSQL
    // that query yields): the sockets are gone by the time they are handled.
    const before = (await admin.get('/api/admin/metrics')).body.hub
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 40 }, async (_, i) => {
        const ws = await channel(reader.token)
        ws.send({ type: 'subscribe', topic: `sensors.gone${batch}.${i}`, ref: 1 })
        if (i % 2) ws.ws.terminate()
        else await ws.close()
      }))
    }
    await expect.poll(async () => (await admin.get('/api/admin/metrics')).body.hub, { timeout: 5000 }).toEqual(before)
    expect(before).toMatchObject({ connections: 0, topics: 0 })
  })
})

describe('inbox paging', () => {
  it('pages through notifications of the same instant without skipping or repeating one', async () => {
    const pager = await createReader(admin, 'pager', 'sensors.*')
    await pager.client.post('/api/subscriptions', { topic: 'sensors.paging' })
    // Many notifications published at once: several share a millisecond.
    const published = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      publisher(server.url, source.token).post('/api/topics/sensors.paging/messages', { notification: { title: `n${i}` } })))
    expect(published.every(r => r.status === 201)).toBe(true)
    const seen: string[] = []
    let query = '/api/inbox?limit=7'
    for (let page = 0; page < 20; page++) {
      const res = await pager.client.get(query)
      seen.push(...res.body.items.map((i: { id: string }) => i.id))
      if (!res.body.nextBefore) break
      query = `/api/inbox?limit=7&before=${encodeURIComponent(res.body.nextBefore)}&beforeId=${res.body.nextBeforeId}`
    }
    expect(seen).toHaveLength(60)
    expect(new Set(seen)).toEqual(new Set(published.map(r => r.body.id)))
  })

  it('searches for % and _ as they are typed, not as wildcards, also across pages', async () => {
    const finder = await createReader(admin, 'finder', 'sensors.*')
    await finder.client.post('/api/subscriptions', { topic: 'sensors.search' })
    for (const title of ['100% done', '1000 done', 'a_b', 'axb', 'A_B upper', 'plain', 'Ärger im Büro', 'CAFÉ open', 'ΑΘΗΝΑ news', 'Cre\u0300me bru\u0302le\u0301e'])
      await publisher(server.url, source.token).post('/api/topics/sensors.search/messages', { notification: { title } })
    const titles = async (q: string, limit = 100) => {
      const found: string[] = []
      let query = `/api/inbox?limit=${limit}&q=${encodeURIComponent(q)}`
      for (let page = 0; page < 10; page++) {
        const res = await finder.client.get(query)
        found.push(...res.body.items.map((i: { title: string }) => i.title))
        if (!res.body.nextBefore) break
        query = `/api/inbox?limit=${limit}&q=${encodeURIComponent(q)}&before=${encodeURIComponent(res.body.nextBefore)}&beforeId=${res.body.nextBeforeId}`
      }
      return found.sort()
    }
    expect(await titles('100%')).toEqual(['100% done'])
    expect(await titles('a_b')).toEqual(['A_B upper', 'a_b'])
    expect(await titles('%')).toEqual(['100% done'])
    expect(await titles('_', 1)).toEqual(['A_B upper', 'a_b'])
    expect(await titles('done')).toEqual(['100% done', '1000 done'])
    // Case is ignored beyond ASCII too, on both databases.
    expect(await titles('ärger')).toEqual(['Ärger im Büro'])
    expect(await titles('BÜRO')).toEqual(['Ärger im Büro'])
    expect(await titles('café')).toEqual(['CAFÉ open'])
    expect(await titles('αθηνα', 2)).toEqual(['ΑΘΗΝΑ news'])
    expect(await titles('im bü')).toEqual(['Ärger im Büro'])
    // Composed and decomposed accents are the same letters.
    expect(await titles('crème brûlée')).toEqual(['Cre\u0300me bru\u0302le\u0301e'])
    expect(await titles('CAFE\u0301')).toEqual(['CAFÉ open'])
  })
})

describe('NUL characters', () => {
  it('refuses text with NUL characters with a 400 or an error frame, on SQLite and PostgreSQL alike', async () => {
    expect((await admin.delete('/api/admin/grants/%00')).status).toBe(400)
    expect((await admin.post('/api/admin/groups', { name: 'a\u0000b' })).status).toBe(400)
    const pub = publisher(server.url, source.token)
    expect((await pub.post('/api/topics/sensors.nul/messages', { notification: { title: 'x\u0000' } })).status).toBe(400)
    // Inside data it is only JSON: accepted.
    expect((await pub.post('/api/topics/sensors.nul/messages', { data: 'a\u0000b' })).status).toBe(201)
    const producer = await datalink(source.token)
    expect(await producer.request({ type: 'publish', topic: 'sensors.nul', notification: { title: 'y\u0000' } })).toMatchObject({ type: 'error', code: 'bad_request' })
    await producer.close()
  })
})

describe('text that is not Unicode', () => {
  it('refuses lone surrogates (JSON \\ud800 escapes) with a 400 or an error frame, and stores the rest', async () => {
    // Sent as JSON escapes: JSON.stringify writes a lone surrogate as \udc00.
    expect((await new ApiClient(server.url).post('/api/auth/login', { username: '\ud800', password: 'x' })).status).toBe(400)
    const group = await admin.post('/api/admin/groups', { name: 'g\ud800' })
    expect(group.status).toBe(400)
    expect(group.body.message).toBe('Invalid body: name: must be valid Unicode (no unpaired surrogate such as \\ud800)')
    expect((await admin.post('/api/me/tokens', { name: '\udfff' })).status).toBe(400)
    const pub = publisher(server.url, source.token)
    expect((await pub.post('/api/topics/sensors.utf/messages', { notification: { title: '\udc00x' } })).status).toBe(400)
    expect((await pub.post('/api/topics/sensors.utf/messages', { notification: { title: 'ok', body: 'a\ud83d' } })).status).toBe(400)
    const producer = await datalink(source.token)
    expect(await producer.request({ type: 'publish', topic: 'sensors.utf', notification: { title: '\udc00' } }))
      .toMatchObject({ type: 'error', code: 'bad_request', message: 'notification.title: must be valid Unicode (no unpaired surrogate such as \\ud800)' })
    await producer.close()
    // Paired surrogates are text; inside data a lone one stays a JSON escape: both stored and read back.
    const reader = await createReader(admin, 'utf-reader', 'sensors.utf')
    expect((await reader.client.post('/api/subscriptions', { topic: 'sensors.utf', push: false })).status).toBe(201)
    const socket = await channel(reader.token)
    await socket.request({ type: 'subscribe', topic: 'sensors.utf' })
    expect((await pub.post('/api/topics/sensors.utf/messages', { data: { raw: '\ud800' }, notification: { title: 'Smile \ud83d\ude00' } })).status).toBe(201)
    expect((await socket.next(f => f.type === 'message')).data).toEqual({ raw: '\ud800' })
    await socket.close()
    const inbox = await reader.client.get('/api/inbox')
    expect(inbox.status).toBe(200)
    expect(inbox.body.items.map((i: { title: string }) => i.title)).toEqual(['Smile \ud83d\ude00'])
    expect((await new ApiClient(server.url).get('/api/health')).status).toBe(200)
  })
})

describe('connections end with their credentials', () => {
  it('closes a /channel when its session logs out or its token is revoked; other sessions stay', async () => {
    const leaver = await createReader(admin, 'leaver', 'sensors.*')
    const elsewhere = new ApiClient(server.url)
    await elsewhere.login('leaver', 'reader-password')
    const bySession = await TestSocket.open(`${server.url}/channel`, { headers: { cookie: leaver.client.cookie } })
    const byLoginToken = await channel(leaver.token)
    const otherSession = await TestSocket.open(`${server.url}/channel`, { headers: { cookie: elsewhere.cookie } })
    const pat = await elsewhere.post('/api/me/tokens', { name: 'script' })
    expect(pat.status).toBe(201)
    const byPat = await channel(pat.body.token)
    for (const ws of [bySession, byLoginToken, otherSession, byPat]) {
      expect((await ws.request({ type: 'subscribe', topic: 'sensors.leave' })).type).toBe('subscribed')
    }

    expect((await leaver.client.post('/api/auth/logout')).status).toBe(200)
    expect(await bySession.closed).toMatchObject({ code: 4001, reason: expect.stringMatching(/logged out/) })
    expect((await byLoginToken.closed).code).toBe(4001)

    expect((await elsewhere.delete(`/api/me/tokens/${pat.body.accessToken.id}`)).status).toBe(204)
    expect((await byPat.closed).code).toBe(4001)

    // The other login's socket is still live and still delivers.
    await publisher(server.url, source.token).post('/api/topics/sensors.leave/messages', { data: 'still here' })
    expect((await otherSession.next(f => f.type === 'message')).data).toBe('still here')
    await otherSession.close()
  })

  it('ends every token of a user whose password an admin resets, personal tokens included, and closes their sockets', async () => {
    const leaked = await createReader(admin, 'leaked', 'sensors.*')
    // Made by whoever knew the old password: it must not outlive the reset.
    const pat = await leaked.client.post('/api/me/tokens', { name: 'kept-by-someone' })
    expect(pat.status).toBe(201)
    const byPat = await channel(pat.body.token)
    const byLoginToken = await channel(leaked.token)
    expect((await byPat.request({ type: 'subscribe', topic: 'sensors.reset' })).type).toBe('subscribed')

    expect((await admin.patch(`/api/admin/users/${leaked.id}`, { password: 'reset-by-admin' })).status).toBe(200)
    const withPat = new ApiClient(server.url)
    withPat.token = pat.body.token
    expect((await withPat.get('/api/me')).status).toBe(401)
    expect((await leaked.client.get('/api/me')).status).toBe(401)
    expect((await byPat.closed).code).toBe(4001)
    expect((await byLoginToken.closed).code).toBe(4001)
    await expect(channel(pat.body.token)).rejects.toMatchObject({ status: 401 })
  })
})
