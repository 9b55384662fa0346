import http from 'node:http'
import net from 'node:net'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { ADMIN_PASSWORD, startServer, type RunningServer } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createReader, publisher } from '../helpers/fixtures'
import { TestSocket } from '../helpers/ws'

let server: RunningServer
let admin: ApiClient
let source: { id: string, token: string }
let reader: { client: ApiClient, token: string, id: string }

beforeAll(async () => {
  server = await startServer({
    env: {
      MERCURY_SOURCE_RATE_LIMIT: '20',
      MERCURY_CHANNEL_FRAME_RATE: '5',
      MERCURY_DATALINK_FRAME_RATE: '30',
      MERCURY_MAX_CONNECTIONS_PER_USER: '3',
      MERCURY_MAX_CONNECTIONS_PER_SOURCE: '2',
      MERCURY_MAX_SUBSCRIPTIONS: '2',
      MERCURY_TRUST_PROXY: '1',
      // As people write them: a trailing slash, capitals, the default port.
      MERCURY_ALLOWED_ORIGINS: 'https://App.Example.com/, http://localhost:8080/,https://dash.example:443',
    },
  })
  admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  source = await createActiveSource(admin, 'limited', 'lim.*')
  reader = await createReader(admin, 'reader', 'lim.*')
})

afterAll(async () => {
  await server?.stop()
})

/** Whether a socket opens on `path` with `token` now (it is closed again at once). */
async function opens(path: string, token: string): Promise<boolean> {
  try {
    await (await TestSocket.open(`${server.url}${path}`, { token })).close()
    return true
  }
  catch {
    return false
  }
}

describe('limits', () => {
  it('limits publishes per source: 429 with Retry-After over REST, rate_limited over /datalink', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      publisher(server.url, source.token).post('/api/topics/lim.rate/messages', { data: i })))
    const limited = results.filter(r => r.status === 429)
    expect(results.filter(r => r.status === 201).length).toBeGreaterThanOrEqual(20)
    expect(limited.length).toBeGreaterThan(0)
    expect(limited[0]!.headers.get('retry-after')).toBe('1')
    expect(limited[0]!.body).toMatchObject({ statusCode: 429, data: { code: 'rate_limited' } })
    const producer = await TestSocket.open(`${server.url}/datalink`, { token: source.token })
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => producer.request({ type: 'publish', topic: 'lim.rate', data: i })))
    expect(answers.some(a => a.type === 'error' && a.code === 'rate_limited')).toBe(true)
    await producer.close()
    // A second later the source may publish again.
    await new Promise(r => setTimeout(r, 1100))
    expect((await publisher(server.url, source.token).post('/api/topics/lim.rate/messages', { data: 'again' })).status).toBe(201)
  })

  it('limits a user publishing through a grant like a source', async () => {
    const writer = await createReader(admin, 'writer', null)
    expect((await admin.post('/api/admin/grants', { userId: writer.id, topic: 'lim.*', publish: true })).status).toBe(201)
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => writer.client.post('/api/topics/lim.user/messages', { data: i }, { headers: { origin: server.url } })))
    expect(results.filter(r => r.status === 201).length).toBeGreaterThanOrEqual(20)
    const limited = results.filter(r => r.status === 429)
    expect(limited.length).toBeGreaterThan(0)
    expect(limited[0]!.body).toMatchObject({ message: 'this user publishes more than 20 messages per second', data: { code: 'rate_limited' } })
  })

  it('answers every publish over the /datalink frame rate with its own rate_limited error and ref', async () => {
    const producer = await TestSocket.open(`${server.url}/datalink`, { token: source.token })
    // A fresh second of the source's publish allowance.
    await new Promise(r => setTimeout(r, 1100))
    // 30 frames a second pass the connection's limit, and of those 20 the source's. Both refill
    // continuously (20 a second for the source), so a slow machine that spreads the frames over
    // some time earns the source a token more per 50 ms of it.
    const started = Date.now()
    const answers = await Promise.all(Array.from({ length: 45 }, (_, i) => producer.request({ type: 'publish', topic: 'lim.frames', data: i, ref: `p${i}` })))
    const refilled = Math.ceil((Date.now() - started) * 20 / 1000)
    expect(answers.map(a => a.ref)).toEqual(Array.from({ length: 45 }, (_, i) => `p${i}`))
    const acked = answers.filter(a => a.type === 'ack').length
    expect(acked).toBeGreaterThan(0)
    expect(acked).toBeLessThanOrEqual(20 + refilled)
    expect(answers.filter(a => a.type === 'error' && a.code === 'rate_limited')).toHaveLength(45 - acked)
    await producer.close()
  })

  it('limits frames per /channel connection', async () => {
    const ws = await TestSocket.open(`${server.url}/channel`, { token: reader.token })
    for (let i = 0; i < 40; i++) ws.send({ type: 'ping', ref: i })
    const limited = await ws.next(f => f.type === 'error' && f.code === 'rate_limited')
    expect(limited.message).toMatch(/slow down/)
    await new Promise(r => setTimeout(r, 300))
    expect(ws.frames.filter(f => f.type === 'pong').length).toBeLessThan(40)
    expect(ws.frames.filter(f => f.code === 'rate_limited').length).toBe(1) // not one per dropped frame
    await new Promise(r => setTimeout(r, 1000))
    expect(await ws.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    await ws.close()
  })

  it('limits connections per user and subscriptions per connection', async () => {
    const open = await Promise.all([1, 2, 3].map(() => TestSocket.open(`${server.url}/channel`, { token: reader.token })))
    await expect(TestSocket.open(`${server.url}/channel`, { token: reader.token })).rejects.toMatchObject({ status: 429 })
    expect((await open[0]!.request({ type: 'subscribe', topic: 'lim.a' })).type).toBe('subscribed')
    expect((await open[0]!.request({ type: 'subscribe', topic: 'lim.b' })).type).toBe('subscribed')
    expect(await open[0]!.request({ type: 'subscribe', topic: 'lim.c' })).toMatchObject({ type: 'error', code: 'limit_exceeded' })
    expect((await open[0]!.request({ type: 'subscribe', topic: 'lim.a', since: 0 })).type).toBe('subscribed')
    await Promise.all(open.map(ws => ws.close()))
    await expect.poll(() => opens('/channel', reader.token)).toBe(true)
  })

  it('bounds stored subscriptions the same way: no socket follows more topics through them', async () => {
    const keeper = await createReader(admin, 'keeper', 'lim.*')
    for (const topic of ['lim.s1', 'lim.s2']) expect((await keeper.client.post('/api/subscriptions', { topic, push: false })).status).toBe(201)
    const third = await keeper.client.post('/api/subscriptions', { topic: 'lim.s3', push: false })
    expect(third.status).toBe(409)
    expect(third.body.message).toBe('At most 2 subscriptions per user (MERCURY_MAX_SUBSCRIPTIONS): unsubscribe from one first')
    expect((await keeper.client.post('/api/subscriptions', { topic: 'lim.s1', push: true })).status).toBe(201) // an existing one changes
    expect((await keeper.client.get('/api/subscriptions')).body.map((s: { topic: string }) => s.topic)).toEqual(['lim.s1', 'lim.s2'])

    // A socket at its limit (a stored subscription and a live view) is told that a subscription
    // added meanwhile is not followed on it, and follows nothing more.
    const ws = await TestSocket.open(`${server.url}/channel`, { token: keeper.token })
    await ws.collect(f => f.type === 'subscribed', 2)
    expect((await keeper.client.delete('/api/subscriptions/lim.s2')).status).toBe(204)
    await ws.next(f => f.type === 'unsubscribed')
    expect((await ws.request({ type: 'subscribe', topic: 'lim.view' })).type).toBe('subscribed')
    expect((await keeper.client.post('/api/subscriptions', { topic: 'lim.s2', push: false })).status).toBe(201)
    expect(await ws.next(f => f.type === 'error')).toMatchObject({ code: 'limit_exceeded', message: 'at most 2 topics per connection: "lim.s2" is not followed' })
    await publisher(server.url, source.token).post('/api/topics/lim.s2/messages', { data: 'not on this socket' })
    expect(await ws.request({ type: 'ping' })).toMatchObject({ type: 'pong' })
    expect(ws.frames.some(f => f.type === 'message')).toBe(false)
    await ws.close()
  })

  it('lets no burst of new subscriptions sent at once pass the limit together', async () => {
    const eager = await createReader(admin, 'eager', 'lim.*')
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => eager.client.post('/api/subscriptions', { topic: `lim.burst${i}`, push: false })))
    expect(answers.filter(a => a.status === 201)).toHaveLength(2)
    expect(answers.filter(a => a.status === 409)).toHaveLength(28)
    expect((await eager.client.get('/api/subscriptions')).body).toHaveLength(2)
  })

  it('keeps subscriptions whose read access was lost, listed as not readable: they count, the 409 says so, and they can be deleted', async () => {
    const member = await createReader(admin, 'member', 'lim.own.*')
    const group = (await admin.post('/api/admin/groups', { name: 'lim-g5' })).body.id as string
    expect((await admin.post(`/api/admin/groups/${group}/members`, { userId: member.id })).status).toBe(201)
    expect((await admin.post('/api/admin/grants', { groupId: group, topic: 'lim.g5.*', read: true })).status).toBe(201)
    for (const topic of ['lim.g5.a', 'lim.g5.b']) expect((await member.client.post('/api/subscriptions', { topic, push: false })).status).toBe(201)
    expect((await admin.delete(`/api/admin/groups/${group}`)).status).toBe(204)

    const listed = async () => (await member.client.get('/api/subscriptions')).body.map(({ topic, readable }: { topic: string, readable: boolean }) => ({ topic, readable }))
    expect(await listed()).toEqual([{ topic: 'lim.g5.a', readable: false }, { topic: 'lim.g5.b', readable: false }])
    expect((await member.client.get('/api/topics')).body).toEqual([])
    const refused = await member.client.post('/api/subscriptions', { topic: 'lim.own.x', push: false })
    expect(refused.status).toBe(409)
    expect(refused.body.message).toBe('At most 2 subscriptions per user (MERCURY_MAX_SUBSCRIPTIONS): unsubscribe from one first (2 of them are topics you can no longer read: remove them on the Topics page)')
    expect(refused.body.data).toEqual({ unreadable: 2 })

    // Deleting one's own subscription needs no read access; the place it frees is taken.
    expect((await member.client.delete('/api/subscriptions/lim.g5.a')).status).toBe(204)
    expect((await member.client.post('/api/subscriptions', { topic: 'lim.own.x', push: false })).status).toBe(201)
    expect(await listed()).toEqual([{ topic: 'lim.g5.b', readable: false }, { topic: 'lim.own.x', readable: true }])
    expect((await member.client.post('/api/subscriptions', { topic: 'lim.own.y', push: false })).body.message)
      .toBe('At most 2 subscriptions per user (MERCURY_MAX_SUBSCRIPTIONS): unsubscribe from one first (1 of them is a topic you can no longer read: remove it on the Topics page)')

    // Access back: the one kept is readable again.
    expect((await admin.post('/api/admin/grants', { userId: member.id, topic: 'lim.g5.*', read: true })).status).toBe(201)
    expect(await listed()).toEqual([{ topic: 'lim.g5.b', readable: true }, { topic: 'lim.own.x', readable: true }])
  })
})

describe('connections per source', () => {
  it('refuses a /datalink upgrade past the limit with 429, for that source only, until one closes', async () => {
    const fleet = await createActiveSource(admin, 'fleet', 'lim.fleet.*')
    const open = await Promise.all([1, 2].map(() => TestSocket.open(`${server.url}/datalink`, { token: fleet.token })))
    const refused = TestSocket.open(`${server.url}/datalink`, { token: fleet.token })
    await expect(refused).rejects.toMatchObject({ status: 429 })
    await expect(refused).rejects.toMatchObject({ body: expect.stringContaining('At most 2 connections per source') })
    // The connections it has still publish; another source is not counted against this one.
    expect(await open[0]!.request({ type: 'publish', topic: 'lim.fleet.a', data: 1 })).toMatchObject({ type: 'ack' })
    const other = await TestSocket.open(`${server.url}/datalink`, { token: source.token })
    await other.close()
    await open[1]!.close()
    await expect.poll(() => opens('/datalink', fleet.token)).toBe(true)
    await open[0]!.close()
  })
})

describe('nesting', () => {
  const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`

  it('refuses JSON nested too deep with 400 or bad_request, and takes 64 levels', async () => {
    // `auth`: a bearer token, 'session' for the reader's session cookie, or none.
    const post = (path: string, body: string, auth?: string) => fetch(`${server.url}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...(auth === 'session' ? { cookie: reader.client.cookie } : auth ? { authorization: `Bearer ${auth}` } : {}) },
    })
    for (const [path, body, token] of [
      ['/api/topics/lim.deep/messages', `{"data":${deep(5000)}}`, source.token],
      ['/api/auth/login', `{"username":${deep(20000)},"password":"x"}`, undefined],
      ['/api/me/tokens', `{"name":${deep(8000)}}`, 'session'],
    ] as const) {
      const res = await post(path, body, token)
      expect(res.status, path).toBe(400)
      expect((await res.json()).message, path).toMatch(/nested deeper than 64 levels/)
    }
    expect((await post('/api/topics/lim.deep/messages', `{"data":${deep(63)}}`, source.token)).status).toBe(201)

    const producer = await TestSocket.open(`${server.url}/datalink`, { token: source.token })
    producer.send(`{"type":"publish","ref":"deep","topic":"lim.deep","data":${deep(5000)}}`)
    expect(await producer.next(f => f.ref === 'deep')).toMatchObject({ type: 'error', code: 'bad_request', message: expect.stringMatching(/nested deeper/) })
    expect(await producer.request({ type: 'publish', topic: 'lim.deep', data: JSON.parse(deep(63)) })).toMatchObject({ type: 'ack' })
    await producer.close()
    const reading = await TestSocket.open(`${server.url}/channel`, { token: reader.token })
    reading.send(`{"type":"ping","ref":"deep","x":${deep(7000)}}`)
    expect(await reading.next(f => f.ref === 'deep')).toMatchObject({ type: 'error', code: 'bad_request' })
    await reading.close()
  })

  it('answers a refusal with its reason phrase, not "Server Error"', async () => {
    const res = await fetch(`${server.url}/api/topics/elsewhere/messages`, {
      method: 'POST', body: '{"data":1}', headers: { 'content-type': 'application/json', 'authorization': `Bearer ${source.token}` },
    })
    expect(res.status).toBe(403)
    expect(res.statusText).toBe('Forbidden')
    expect(await res.json()).toMatchObject({ statusCode: 403, statusMessage: 'Forbidden' })
  })
})

describe('frame size', () => {
  it('answers an oversized frame with an error, and closes with 1009 on one too large to read', async () => {
    const producer = await TestSocket.open(`${server.url}/datalink`, { token: source.token })
    // Over MERCURY_MAX_PAYLOAD_BYTES (64 KiB): read, refused, the connection stays.
    producer.send({ ref: 'big', type: 'publish', topic: 'lim.big', data: 'x'.repeat(100 * 1024) })
    expect(await producer.next(f => f.type === 'error')).toMatchObject({ code: 'payload_too_large', ref: 'big' })
    expect((await producer.request({ type: 'ping' })).type).toBe('pong')
    // Over four times that (and over 1 MiB): not read at all.
    producer.send({ type: 'publish', topic: 'lim.big', data: 'x'.repeat(2 * 1024 * 1024) })
    expect((await producer.closed).code).toBe(1009)
    const reading = await TestSocket.open(`${server.url}/channel`, { token: reader.token })
    reading.send('x'.repeat(2 * 1024 * 1024))
    expect((await reading.closed).code).toBe(1009)
    // The server carries on.
    expect((await publisher(server.url, source.token).post('/api/topics/lim.big/messages', { data: 1 })).status).toBe(201)
  })
})

describe('body size', () => {
  /** POSTs a JSON body in chunks (no Content-Length); `mb` more MiB of padding unless answered first. */
  function chunkedPost(path: string, head: string, mb: number) {
    return new Promise<{ status: number, body: string, sentMb: number }>((resolve, reject) => {
      let sent = 0
      let answered = false
      const req = http.request(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        answered = true
        let body = ''
        res.on('data', (d: Buffer) => body += d)
        res.on('end', () => {
          resolve({ status: res.statusCode!, body, sentMb: sent })
          req.destroy()
        })
      })
      // Once answered, the server may cut the connection while this side is still writing.
      req.on('error', error => answered ? undefined : reject(error))
      req.write(head)
      const chunk = Buffer.alloc(1024 * 1024, ' ')
      const pump = () => {
        while (!answered && sent < mb) {
          sent++
          if (!req.write(chunk)) return req.once('drain', pump)
        }
        if (!answered) req.end('}')
      }
      pump()
    })
  }

  it('answers 413 to a body sent in chunks as soon as it passes the limit, and keeps none of the rest', async () => {
    const res = await chunkedPost('/api/auth/login', '{"username":"admin","password":"x","pad":"', 256)
    expect(res.status).toBe(413)
    expect(JSON.parse(res.body)).toMatchObject({ statusCode: 413, message: expect.stringContaining('larger than') })
    // Answered long before the client could send its 256 MiB, and the connection cut after 16 MiB
    // more were dropped: the client gets its answer, the server keeps none of it.
    expect(res.sentMb).toBeLessThan(64)
    // A small body in chunks is read as before.
    const small = await chunkedPost('/api/auth/login', JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }).slice(0, -1), 0)
    expect(small.status).toBe(200)
  })

  it('answers 413 to a declared Content-Length over the limit and cuts a client that goes on sending', async () => {
    // A raw client that keeps writing its declared 256 MiB whatever the answer.
    const { host, port } = new URL(server.url)
    const result = await new Promise<{ head: string, sentMb: number, cut: boolean }>((resolve) => {
      const socket = net.connect(Number(port), host.split(':')[0])
      let head = ''
      let sentMb = 0
      let done = false
      const finish = (cut: boolean) => {
        if (done) return
        done = true
        socket.destroy()
        resolve({ head, sentMb, cut })
      }
      socket.on('data', (d: Buffer) => head += d.toString('latin1'))
      socket.on('error', () => finish(true))
      socket.on('close', () => finish(true))
      socket.write(`POST /api/auth/login HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${256 * 1024 * 1024}\r\n\r\n`)
      const chunk = Buffer.alloc(1024 * 1024, ' ')
      const pump = () => {
        while (!done && sentMb < 256) {
          sentMb++
          if (!socket.write(chunk)) return socket.once('drain', pump)
        }
        if (!done) setTimeout(() => finish(false), 2000)
      }
      pump()
    })
    expect(result.head).toMatch(/^HTTP\/1\.1 413 /)
    expect(result.head).toContain('larger than')
    // Node would read the whole declared length to keep the connection: Mercury stops after 16 MiB.
    expect(result.cut).toBe(true)
    expect(result.sentMb).toBeLessThan(128)
  })
  it('stays quiet when a client closes the connection halfway through its body, on any route', async () => {
    const adminToken = (await new ApiClient(server.url).login('admin', ADMIN_PASSWORD)).body.token as string
    const { host, port } = new URL(server.url)
    const logBefore = server.output().length
    for (const [path, token] of [['/api/auth/login', null], ['/api/subscriptions', reader.token], ['/api/admin/users', adminToken], ['/api/topics/lim.abort/messages', source.token]] as const) {
      // 100 bytes declared, 8 sent, then gone: Node reports the request "aborted".
      await new Promise<void>((resolve) => {
        const socket = net.connect(Number(port), host.split(':')[0], () => {
          socket.write(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"data":`)
          setTimeout(() => {
            socket.destroy()
            resolve()
          }, 200)
        })
      })
    }
    await new Promise(resolve => setTimeout(resolve, 300))
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200)
    // Nobody is left to answer and nothing went wrong here: no "unhandled 500" and its stack trace.
    expect(server.output().slice(logBefore)).not.toMatch(/aborted|ECONNRESET|request error|unhandled|\b500\b/i)
  })

  it('refuses a compressed body with 415 on every route that reads one, rather than reading it as it is', async () => {
    const login = JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD })
    const post = (path: string, body: BodyInit, headers: Record<string, string>) =>
      fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } })
    const refused = [
      // A real gzip body: read as text, it was "not valid UTF-8".
      await post('/api/topics/lim.gz/messages', gzipSync('{"data":1}'), { 'authorization': `Bearer ${source.token}`, 'content-encoding': 'gzip' }),
      // A plain body that says it is gzip: it was published as it is.
      await post('/api/topics/lim.gz/messages', 'hello', { 'authorization': `Bearer ${source.token}`, 'content-type': 'text/plain', 'content-encoding': 'gzip' }),
      await post('/api/auth/login', login, { 'content-encoding': 'GZIP' }),
      await post('/api/subscriptions', JSON.stringify({ topic: 'lim.gz' }), { 'authorization': `Bearer ${reader.token}`, 'content-encoding': 'br' }),
    ]
    for (const res of refused) {
      expect(res.status).toBe(415)
      expect(await res.json()).toMatchObject({ statusCode: 415, message: expect.stringMatching(/must not be compressed/) })
    }
    expect((await post('/api/auth/login', login, { 'content-encoding': 'identity' })).status).toBe(200)
    expect((await post('/api/topics/lim.gz/messages', '{"data":1}', { 'authorization': `Bearer ${source.token}`, 'content-encoding': 'identity' })).status).toBe(201)
    const history = await reader.client.get('/api/topics/lim.gz/messages')
    expect(history.body.messages).toHaveLength(1)
  })
})

describe('web security', () => {
  it('refuses cookie-authenticated mutations from another origin', async () => {
    const foreign = await admin.post('/api/admin/groups', { name: 'csrf' }, { headers: { origin: 'https://evil.example' } })
    expect(foreign.status).toBe(403)
    const crossSite = await admin.post('/api/admin/groups', { name: 'csrf' }, { headers: { 'sec-fetch-site': 'cross-site' } })
    expect(crossSite.status).toBe(403)
    const same = await admin.post('/api/admin/groups', { name: 'csrf' }, { headers: { origin: server.url } })
    expect(same.status).toBe(201)
    // A bearer token is no ambient credential: any origin may use it.
    const tokenClient = new ApiClient(server.url)
    tokenClient.token = reader.token
    expect((await tokenClient.post('/api/subscriptions', { topic: 'lim.x' }, { headers: { origin: 'https://other.example' } })).status).toBe(201)
  })

  it('lets the origins of MERCURY_ALLOWED_ORIGINS use the session cookie, as a browser names them', async () => {
    for (const origin of ['https://app.example.com', 'http://localhost:8080', 'https://dash.example']) {
      expect((await admin.post('/api/admin/groups', { name: `allowed-${origin.length}` }, { headers: { origin } })).status, origin).toBe(201)
      const ws = await TestSocket.open(`${server.url}/channel`, { headers: { cookie: reader.client.cookie, origin } })
      await ws.close()
    }
    expect((await admin.post('/api/admin/groups', { name: 'not-allowed' }, { headers: { origin: 'http://localhost:8081' } })).status).toBe(403)
  })

  it('refuses a cookie-authenticated WebSocket from another origin', async () => {
    await expect(TestSocket.open(`${server.url}/channel`, { headers: { cookie: reader.client.cookie, origin: 'https://evil.example' } }))
      .rejects.toMatchObject({ status: 403 })
    const ok = await TestSocket.open(`${server.url}/channel`, { headers: { cookie: reader.client.cookie, origin: server.url } })
    await ok.close()
  })

  it('marks the session cookie Secure behind TLS only', async () => {
    const overTls = await new ApiClient(server.url).post('/api/auth/login', { username: 'admin', password: ADMIN_PASSWORD }, { headers: { 'x-forwarded-proto': 'https' } })
    const tlsCookie = overTls.headers.getSetCookie().find(c => c.startsWith('mercury-session='))!
    expect(tlsCookie).toMatch(/;\s*Secure/i)
    expect(tlsCookie).toMatch(/HttpOnly/i)
    expect(tlsCookie).toMatch(/SameSite=Lax/i)
    const plain = await new ApiClient(server.url).post('/api/auth/login', { username: 'admin', password: ADMIN_PASSWORD })
    expect(plain.headers.getSetCookie().find(c => c.startsWith('mercury-session='))).not.toMatch(/;\s*Secure/i)
  })

  it('sends security headers', async () => {
    const res = await fetch(`${server.url}/api/health`)
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('x-frame-options')).toBe('DENY')
    expect(res.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin')
  })

  it('answers HEAD /api/health as GET without the body (load balancers check with either), and 405 to other methods', async () => {
    const head = await fetch(`${server.url}/api/health`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    expect(head.headers.get('content-type')).toMatch(/json/)
    const post = await fetch(`${server.url}/api/health`, { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
    expect((await post.json()).message).toBeTruthy()
  })

  it('answers 405 to a method other than GET and HEAD on a page, a built file, /metrics or a socket\'s path', async () => {
    for (const path of ['/', '/inbox', '/login', '/metrics', '/sw.js', '/manifest.webmanifest', '/channel', '/datalink']) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'DELETE' ? undefined : '{}' })
        const what = `${method} ${path}`
        expect(res.status, what).toBe(405)
        expect(res.headers.get('allow'), what).toBe('GET, HEAD')
        expect(res.headers.get('content-type'), what).toMatch(/json/)
        expect(await res.json(), what).toMatchObject({ statusCode: 405, statusMessage: 'Method Not Allowed', message: expect.stringContaining(method) })
      }
    }
    // Reading them is as before, and so is OPTIONS.
    const page = await fetch(`${server.url}/inbox`)
    expect(page.status).toBe(200)
    expect(await page.text()).toMatch(/^<!DOCTYPE html>/)
    expect((await fetch(`${server.url}/sw.js`, { method: 'HEAD' })).status).toBe(200)
    expect((await fetch(`${server.url}/`, { method: 'OPTIONS' })).status).toBe(200)
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404)
    await (await TestSocket.open(`${server.url}/channel`, { token: reader.token })).close()
  })

  it('answers a built file by its ETag when the request names one, whatever its date says (a release built earlier is still new to the browser)', async () => {
    const first = await fetch(`${server.url}/sw.js`)
    expect(first.status).toBe(200)
    const etag = first.headers.get('etag')!
    expect(etag).toBeTruthy()
    const later = new Date(Date.now() + 24 * 60 * 60_000).toUTCString()
    // The browser holds another release's worker, stamped later than this build.
    const other = await fetch(`${server.url}/sw.js`, { headers: { 'if-none-match': '"another-release"', 'if-modified-since': later } })
    expect(other.status).toBe(200)
    expect(await other.text()).toBe(await first.text())
    expect((await fetch(`${server.url}/sw.js`, { headers: { 'if-none-match': etag, 'if-modified-since': later } })).status).toBe(304)
    // Compared weakly: the tag a compressing proxy weakens still matches.
    expect((await fetch(`${server.url}/sw.js`, { headers: { 'if-none-match': `W/${etag}`, 'if-modified-since': later } })).status).toBe(304)
    expect((await fetch(`${server.url}/sw.js`, { headers: { 'if-none-match': `W/"another-release"`, 'if-modified-since': later } })).status).toBe(200)
    expect((await fetch(`${server.url}/sw.js`, { headers: { 'if-modified-since': later } })).status).toBe(304)
  })

  it('sends security headers on every answer, built files and a missing one included, and HSTS behind the trusted TLS proxy', async () => {
    const script = /\/_nuxt\/[\w-]+\.js/.exec(await (await fetch(`${server.url}/`)).text())?.[0]
    expect(script).toBeDefined()
    for (const path of ['/', '/api/health', '/sw.js', script!, '/manifest.webmanifest', '/icons/icon-192.png', '/_nuxt/nope.js']) {
      for (const method of ['GET', 'HEAD']) {
        for (const overTls of [false, true]) {
          const res = await fetch(`${server.url}${path}`, { method, headers: overTls ? { 'x-forwarded-proto': 'https' } : {} })
          await res.arrayBuffer()
          const what = `${method} ${path}${overTls ? ' over TLS' : ''}`
          expect(res.status, what).toBe(path === '/_nuxt/nope.js' ? 404 : 200)
          expect(res.headers.get('x-content-type-options'), what).toBe('nosniff')
          expect(res.headers.get('x-frame-options'), what).toBe('DENY')
          expect(res.headers.get('referrer-policy'), what).toBe('strict-origin-when-cross-origin')
          expect(res.headers.get('permissions-policy'), what).toBe('camera=(), microphone=(), geolocation=()')
          expect(res.headers.get('strict-transport-security'), what).toBe(overTls ? 'max-age=31536000' : null)
        }
      }
    }
    // A policy sent with sw.js would be the service worker's own: built files get none.
    for (const path of ['/sw.js', script!]) expect((await fetch(`${server.url}${path}`)).headers.get('content-security-policy'), path).toBeNull()
  })

  it('answers a REST publish (served without the rest of h3) as every other route: headers, CSRF, errors', async () => {
    const fast = await createActiveSource(admin, 'fast-path', 'fp.*')
    const ok = await publisher(server.url, fast.token).post('/api/topics/fp.a/messages', { data: 1 })
    expect(ok.status).toBe(201)
    expect(ok.headers.get('content-type')).toBe('application/json')
    expect(ok.body).toMatchObject({ topic: 'fp.a' })
    // Sent whole with its length, not as a chunked body.
    expect(ok.headers.get('content-length')).toBe(String(Buffer.byteLength(JSON.stringify(ok.body))))
    expect(ok.headers.get('transfer-encoding')).toBeNull()
    const unauthorized = await publisher(server.url, 'msrc_not-a-token').post('/api/topics/fp.a/messages', { data: 1 })
    const other = await new ApiClient(server.url).get('/api/admin/users')
    const health = await new ApiClient(server.url).get('/api/health')
    for (const [res, like] of [[ok, health], [unauthorized, other]] as const) {
      for (const header of ['content-type', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'permissions-policy', 'content-security-policy', 'cache-control']) {
        expect(res.headers.get(header), header).toBe(like.headers.get(header))
      }
    }
    expect(unauthorized.status).toBe(401)
    expect(Object.keys(unauthorized.body).sort()).toEqual(Object.keys(other.body).sort())
    expect(unauthorized.body).toMatchObject({ statusCode: 401, message: 'Invalid or revoked source token', url: '/api/topics/fp.a/messages' })
    // Encoded topics are decoded as the router would; a topic that is not one is refused.
    expect((await publisher(server.url, fast.token).post('/api/topics/fp.%62/messages?x=1', { data: 2 })).body).toMatchObject({ topic: 'fp.b' })
    expect((await publisher(server.url, fast.token).post('/api/topics/fp%20b/messages', { data: 2 })).status).toBe(400)
    // A cookie session publishes from this site only.
    const me = (await admin.get('/api/me')).body.user
    expect((await admin.post('/api/admin/grants', { userId: me.id, topic: 'fp.*', publish: true, read: true })).status).toBe(201)
    const foreign = await admin.post('/api/topics/fp.c/messages', { data: 3 }, { headers: { origin: 'https://evil.example' } })
    expect(foreign.status).toBe(403)
    expect(foreign.body.message).toBe('Requests from https://evil.example may not use this session')
    expect((await admin.post('/api/topics/fp.c/messages', { data: 3 }, { headers: { origin: server.url } })).status).toBe(201)
  })

  it('answers API errors with the API\'s own headers, without echoing the host asked for', async () => {
    const ok = await fetch(`${server.url}/api/health`)
    for (const path of ['/api', '/api/me', '/api/admin/users', '/api/no-such-route', '/api/topics/lim.a/messages?since=x']) {
      const res = await fetch(`${server.url}${path}`, { headers: { host: 'attacker.example' } })
      expect(res.status, path).toBeGreaterThanOrEqual(400)
      expect(res.status, path).toBeLessThan(500)
      for (const header of ['content-type', 'content-security-policy', 'referrer-policy', 'x-frame-options']) {
        expect(res.headers.get(header), `${path} ${header}`).toBe(ok.headers.get(header))
      }
      const body = await res.json()
      expect(body.url).toBe(path)
      expect(JSON.stringify(body)).not.toContain('attacker.example')
    }
    const page = await fetch(`${server.url}/login`)
    expect(page.headers.get('x-powered-by')).toBeNull()
  })

  it('refuses WebSocket upgrades on any path but /channel and /datalink', async () => {
    for (const path of ['/', '/login', '/api/me', '/CHANNEL', '/Datalink', '/channel/x']) {
      const refused = await TestSocket.open(`${server.url}${path}`, { token: reader.token }).then(() => null, (error: { status: number, body: string }) => error)
      expect(refused, path).toMatchObject({ status: 404 })
      expect(JSON.parse(refused!.body).message).toMatch(/\/channel/)
    }
  })

  it('selects no WebSocket subprotocol, whatever the client offers', async () => {
    for (const path of ['/channel', '/datalink']) {
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}${path}`, ['mqtt', 'graphql-ws'], { headers: { authorization: `Bearer ${path === '/channel' ? reader.token : source.token}` } })
      const selected = new Promise<string | undefined>(resolve => ws.once('upgrade', res => resolve(res.headers['sec-websocket-protocol'])))
      // Mercury speaks none of them: the client fails the handshake rather than speak one.
      const failed = new Promise<string>((resolve) => {
        ws.once('open', () => resolve(`opened with ${ws.protocol}`))
        ws.once('error', error => resolve(error.message))
      })
      expect(await selected, path).toBeUndefined()
      expect(await failed, path).toBe('Server sent no subprotocol')
    }
  })

  it('refuses an upgrade with a JSON body and no garbled content type', async () => {
    const refused = await TestSocket.open(`${server.url}/datalink`, { token: 'msrc_bogus' }).then(() => null, (error: { status: number, body: string, headers: Record<string, string> }) => error)
    expect(refused).toMatchObject({ status: 401 })
    expect(JSON.parse(refused!.body)).toMatchObject({ statusCode: 401, message: 'Invalid or revoked source token' })
    expect(refused!.headers['content-type'] ?? '').not.toMatch(/%/)
  })

  it('behind a trusted proxy, checks a WebSocket\'s Origin against the forwarded host, as REST does', async () => {
    const headers = { 'cookie': reader.client.cookie, 'host': 'mercury-internal:3000', 'x-forwarded-host': 'mercury.example', 'origin': 'https://mercury.example' }
    expect((await reader.client.post('/api/me/tokens', { name: 'proxied' }, { headers })).status).toBe(201)
    const ws = await TestSocket.open(`${server.url}/channel`, { headers })
    await ws.close()
    await expect(TestSocket.open(`${server.url}/channel`, { headers: { ...headers, origin: 'https://evil.example' } })).rejects.toMatchObject({ status: 403 })
  })

  it('behind TLS, takes a page of the same host over plain http for another origin', async () => {
    const tls = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'mercury.example' }
    const http = await reader.client.post('/api/me/tokens', { name: 'from-http' }, { headers: { ...tls, origin: 'http://mercury.example' } })
    expect(http.status).toBe(403)
    expect((await reader.client.post('/api/me/tokens', { name: 'from-https' }, { headers: { ...tls, origin: 'https://mercury.example' } })).status).toBe(201)
    const headers = { ...tls, cookie: reader.client.cookie }
    await expect(TestSocket.open(`${server.url}/channel`, { headers: { ...headers, origin: 'http://mercury.example' } })).rejects.toMatchObject({ status: 403 })
    const ws = await TestSocket.open(`${server.url}/channel`, { headers: { ...headers, origin: 'https://mercury.example' } })
    await ws.close()
    // Over plain http the scheme says nothing (a TLS proxy not trusted to say so): the host decides.
    expect((await reader.client.post('/api/me/tokens', { name: 'plain' }, { headers: { origin: server.url } })).status).toBe(201)
  })

  it('behind a trusted proxy, counts failed logins per client address, not per proxy', async () => {
    // The proxy appends the address it saw: entries before it are the client's own say.
    for (let i = 0; i < 50; i++) {
      const guess = await new ApiClient(server.url).post('/api/auth/login', { username: `nobody${i}`, password: 'wrong-password' }, { headers: { 'x-forwarded-for': `10.9.9.${i}, 203.0.113.7` } })
      expect(guess.status).toBe(401)
    }
    const attacker = await new ApiClient(server.url).post('/api/auth/login', { username: 'nobody', password: 'wrong-password' }, { headers: { 'x-forwarded-for': '10.1.1.1, 203.0.113.7' } })
    expect(attacker.status).toBe(429)
    const someoneElse = await new ApiClient(server.url).post('/api/auth/login', { username: 'admin', password: ADMIN_PASSWORD }, { headers: { 'x-forwarded-for': '198.51.100.99' } })
    expect(someoneElse.status).toBe(200)
  })

  it('has no logout that leaves the session\'s token valid (nuxt-auth-utils\' DELETE /api/_auth/session)', async () => {
    const user = await createReader(admin, 'sessioncopy', null)
    const copy = user.client.cookie
    const res = await user.client.request('DELETE', '/api/_auth/session', undefined, { headers: { origin: server.url } })
    expect(res.status).toBeGreaterThanOrEqual(400)
    const still = new ApiClient(server.url)
    still.cookie = copy
    expect((await still.get('/api/me')).status).toBe(200)
    expect((await still.post('/api/auth/logout', undefined, { headers: { origin: server.url } })).status).toBe(200)
    const after = new ApiClient(server.url)
    after.cookie = copy
    expect((await after.get('/api/me')).status).toBe(401)
  })

  it('never logs passwords or tokens', async () => {
    await new ApiClient(server.url).post('/api/auth/login', { username: 'admin', password: 'a-wrong-secret-password' })
    const output = server.output()
    expect(output).not.toContain('a-wrong-secret-password')
    expect(output).not.toContain(ADMIN_PASSWORD)
    expect(output).not.toContain(source.token)
    expect(output).not.toContain(reader.token)
  })
})
