// `npm run soak`: a bounded soak of the built server. 1,000 /channel subscribers on 10 topics,
// a producer publishing steadily over /datalink, ~1% of the subscribers dropped every second and
// reconnected with `since` after a random pause. Samples the server's memory; at the end checks
// that every subscriber got every message of its topic exactly once, in order.
//   SOAK_MINUTES (10) SOAK_SUBSCRIBERS (1000) SOAK_RATE (100 msg/s) SOAK_TOPICS (10)
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'

const root = fileURLToPath(new URL('..', import.meta.url))
const MINUTES = Number(process.env.SOAK_MINUTES ?? 10)
const SUBSCRIBERS = Number(process.env.SOAK_SUBSCRIBERS ?? 1000)
const RATE = Number(process.env.SOAK_RATE ?? 100)
const TOPICS = Number(process.env.SOAK_TOPICS ?? 10)
const PASSWORD = 'soak-admin-password'

const freePort = () => new Promise((resolve) => {
  const srv = createServer().listen(0, '127.0.0.1', () => {
    const { port } = srv.address()
    srv.close(() => resolve(port))
  })
})
const sleep = ms => new Promise(r => setTimeout(r, ms))

const dir = mkdtempSync(path.join(tmpdir(), 'mercury-soak-'))
const port = await freePort()
const url = `http://127.0.0.1:${port}`
const env = {
  ...process.env, HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: `file:${path.join(dir, 'db.sqlite')}`,
  MERCURY_DATA_DIR: dir, MERCURY_ADMIN_PASSWORD: PASSWORD, MERCURY_MAX_CONNECTIONS_PER_USER: String(SUBSCRIBERS * 2),
  MERCURY_SOURCE_RATE_LIMIT: '100000', MERCURY_DATALINK_FRAME_RATE: '100000', REDIS_URL: '',
}
if (spawnSync(path.join(root, 'node_modules/.bin/prisma'), ['migrate', 'deploy'], { cwd: root, env, stdio: 'ignore' }).status !== 0) throw new Error('migrate failed')
const server = spawn(process.execPath, [path.join(root, '.output/server/index.mjs')], { cwd: dir, env, stdio: 'ignore' })
process.on('exit', () => server.kill('SIGKILL'))
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${url}/api/health`)).ok) break
  }
  catch { /* not yet */ }
  if (i > 300) throw new Error('server did not start')
  await sleep(100)
}

async function api(method, pathname, body, token) {
  const res = await fetch(url + pathname, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body && JSON.stringify(body) })
  const json = await res.json()
  if (!res.ok) throw new Error(`${method} ${pathname}: ${res.status} ${JSON.stringify(json)}`)
  return json
}
const adminToken = (await api('POST', '/api/auth/login', { username: 'admin', password: PASSWORD })).token
const user = await api('POST', '/api/admin/users', { username: 'soak', password: 'soak-password' }, adminToken)
await api('POST', '/api/admin/grants', { userId: user.id, topic: 'soak.*', read: true }, adminToken)
const userToken = (await api('POST', '/api/auth/login', { username: 'soak', password: 'soak-password' })).token
const sourceToken = (await api('POST', '/api/admin/sources', { name: 'soak', topics: 'soak.*', status: 'active' }, adminToken)).token

// Each subscriber follows one topic and keeps every offset it received.
const subscribers = Array.from({ length: SUBSCRIBERS }, (_, i) => ({ topic: `soak.${i % TOPICS}`, first: null, last: null, got: [], ws: null, reconnects: 0, recoveredFalse: 0 }))
function connect(sub) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/channel?token=${userToken}`)
    sub.ws = ws
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topic: sub.topic, ...(sub.last === null ? {} : { since: sub.last }) })))
    ws.on('message', (data) => {
      const frame = JSON.parse(data)
      if (frame.type === 'subscribed') {
        if (sub.first === null) sub.first = frame.offset + 1
        if (!frame.recovered) sub.recoveredFalse++
        resolve()
      }
      else if (frame.type === 'message' && frame.topic === sub.topic) {
        sub.got.push(frame.offset)
        sub.last = frame.offset
      }
    })
    ws.on('error', () => {})
  })
}
for (let i = 0; i < SUBSCRIBERS; i += 100) await Promise.all(subscribers.slice(i, i + 100).map(connect))

const producer = new WebSocket(`${url.replace('http', 'ws')}/datalink?token=${sourceToken}`)
await new Promise(resolve => producer.on('open', resolve))
const acked = new Map()
let errors = 0
producer.on('message', (data) => {
  const frame = JSON.parse(data)
  if (frame.type === 'ack') acked.set(frame.topic, Math.max(acked.get(frame.topic) ?? 0, frame.offset))
  else errors++
})

const samples = []
const sampleMemory = () => {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8')
  samples.push({ t: Date.now(), rssMb: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024 })
}
const started = Date.now()
const end = started + MINUTES * 60_000
let published = 0
let seq = 0
const publishTimer = setInterval(() => {
  for (let i = 0; i < RATE / 10; i++) {
    producer.send(JSON.stringify({ type: 'publish', ref: seq, topic: `soak.${seq % TOPICS}`, event: 'tick', data: { seq } }))
    seq++
    published++
  }
}, 100)
const dropTimer = setInterval(() => {
  for (const sub of subscribers) {
    if (Math.random() >= 0.01 || sub.ws.readyState !== WebSocket.OPEN) continue
    sub.ws.terminate()
    sub.reconnects++
    setTimeout(() => connect(sub), 200 + Math.random() * 1800)
  }
}, 1000)
sampleMemory()
const sampleTimer = setInterval(sampleMemory, 10_000)
while (Date.now() < end) {
  await sleep(1000)
  if (server.exitCode !== null) throw new Error('the server died')
}
clearInterval(publishTimer)
clearInterval(dropTimer)
await sleep(3000) // reconnections in progress finish, the last messages arrive
clearInterval(sampleTimer)
sampleMemory()

// Every subscriber must hold every offset of its topic from its first one to the last, once, in order.
let lost = 0
let duplicates = 0
let outOfOrder = 0
for (const sub of subscribers) {
  const last = acked.get(sub.topic) ?? 0
  const expected = last - sub.first + 1
  const unique = new Set(sub.got)
  duplicates += sub.got.length - unique.size
  lost += Math.max(0, expected - unique.size)
  for (let i = 1; i < sub.got.length; i++) if (sub.got[i] <= sub.got[i - 1]) outOfOrder++
}
// Memory trend over the second half (after warm-up): least-squares slope in MB per minute.
const half = samples.filter(s => s.t >= started + (MINUTES * 60_000) / 2)
const mean = xs => xs.reduce((a, b) => a + b, 0) / xs.length
const tx = half.map(s => (s.t - started) / 60_000)
const ty = half.map(s => s.rssMb)
const slope = half.length > 1 ? tx.reduce((acc, x, i) => acc + (x - mean(tx)) * (ty[i] - mean(ty)), 0) / tx.reduce((acc, x) => acc + (x - mean(tx)) ** 2, 0) : 0
const result = {
  minutes: MINUTES, subscribers: SUBSCRIBERS, topics: TOPICS, ratePerSecond: RATE, published, publishErrors: errors,
  deliveriesExpected: subscribers.reduce((n, s) => n + (acked.get(s.topic) ?? 0) - s.first + 1, 0),
  reconnects: subscribers.reduce((n, s) => n + s.reconnects, 0), recoveredFalse: subscribers.reduce((n, s) => n + s.recoveredFalse, 0),
  lost, duplicates, outOfOrder,
  rssMb: { start: samples[0].rssMb.toFixed(1), max: Math.max(...samples.map(s => s.rssMb)).toFixed(1), end: samples.at(-1).rssMb.toFixed(1) },
  secondHalfSlopeMbPerMinute: Number(slope.toFixed(3)),
}
console.log(JSON.stringify(result, null, 2))
for (const sub of subscribers) sub.ws.terminate()
producer.terminate()
server.kill('SIGTERM')
await sleep(500)
rmSync(dir, { recursive: true, force: true })
process.exit(lost === 0 && duplicates === 0 && outOfOrder === 0 && errors === 0 ? 0 : 1)
