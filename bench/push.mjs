#!/usr/bin/env node
// Push pipeline throughput against the loopback test push service (tests/helpers/push-service.ts,
// which checks VAPID and decrypts every push, as a browser vendor's service would).
//   A) Mercury (embedded): DEVICES devices of one user subscribed with push on, NOTIFICATIONS
//      notifications published over REST; timed from the first publish until the last Delivery
//      row was written `sent` (its updatedAt, read from the SQLite file once all are sent).
//   B) a bare loop calling web-push's sendNotification with the same concurrency
//      (MERCURY_PUSH_CONCURRENCY and MERCURY_PUSH_SERVICE_CONCURRENCY, 64: one push service here)
//      against the same service, same number of pushes.
// The push service runs in a child process of its own in both cases.
//
//   node bench/push.mjs          # DEVICES=200 NOTIFICATIONS=25 WARMUP=5 CONCURRENCY=64 REPEAT=3
import { fork } from 'node:child_process'
import https from 'node:https'
import { mkdirSync, readFileSync, appendFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import webpush from 'web-push'
import { createClient } from '@libsql/client'
import { BENCH, api, cpuSeconds, ensureBuilt, freePort, log, median, seedDataDir, sleep, stamp, startServer, stopServer } from './lib.mjs'

const DEVICES = Number(process.env.DEVICES ?? 200)
const NOTIFICATIONS = Number(process.env.NOTIFICATIONS ?? 25)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64)
const REPEAT = Number(process.env.REPEAT ?? 3)
const TOTAL = DEVICES * NOTIFICATIONS
// Both sides first run WARMUP notifications' worth of pushes, unmeasured: each Mercury run is a
// fresh server process, and without this it would pay its JIT warm-up in every measurement while
// the bare loop (one process for all runs) pays it only once.
const WARMUP = Number(process.env.WARMUP ?? 5)

// ---------- child: the test push service ----------
if (process.argv[2] === '--service') {
  const { TestPushService } = await import('../tests/helpers/push-service.ts')
  const service = new TestPushService()
  await service.start()
  const subscriptions = Array.from({ length: DEVICES }, (_, i) => service.subscribe(`d${i}`).subscription)
  process.on('message', (msg) => {
    if (msg.type === 'count') {
      const problems = service.received.filter(r => r.problems.length > 0).length
      process.send({ type: 'count', received: service.received.length, problems })
    }
    if (msg.type === 'reset') {
      service.received.length = 0
      process.send({ type: 'reset' })
    }
    if (msg.type === 'exit') void service.stop().then(() => process.exit(0))
  })
  process.send({ type: 'ready', url: service.url, certFile: service.certFile, subscriptions })
}
else {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}

function ask(child, type) {
  return new Promise((resolve) => {
    child.on('message', function handler(msg) {
      if (msg.type === type) {
        child.off('message', handler)
        resolve(msg)
      }
    })
    child.send({ type })
  })
}

function payloadFor(i) {
  return JSON.stringify({ id: `n${i}`, topic: 'bench.push', title: `Bench ${i}`, body: 'x'.repeat(64), url: null, priority: 3, createdAt: new Date().toISOString() })
}

/** The devices one user may register (POST /api/devices answers 409 beyond). */
const DEVICES_PER_USER = 100

/** Another reader of bench.* (what seedDataDir makes of `bench`); resolves to its login token. */
async function benchUser(url, adminToken, username) {
  const password = 'bench-user-password'
  const user = await api(url, 'POST', '/api/admin/users', { token: adminToken, body: { username, password } })
  await api(url, 'POST', '/api/admin/grants', { token: adminToken, body: { userId: user.id, topic: 'bench.*', read: true } })
  return (await api(url, 'POST', '/api/auth/login', { body: { username, password } })).token
}

async function mercury(service, ready, out, rep) {
  const dataDir = path.join(out, `data-${rep}`)
  const tokens = await seedDataDir(dataDir)
  const server = await startServer({
    dataDir, port: await freePort(19300), logFile: path.join(out, `server-${rep}.log`),
    extraEnv: { NODE_EXTRA_CA_CERTS: ready.certFile, MERCURY_PUSH_ALLOW_INSECURE: '1', MERCURY_PUSH_CONCURRENCY: String(CONCURRENCY), MERCURY_PUSH_SERVICE_CONCURRENCY: String(CONCURRENCY) },
  })
  const db = createClient({ url: `file:${path.join(dataDir, 'mercury.db')}` })
  try {
    const { url } = server
    // A user may have 100 devices: the bench user holds the first 100, more users the rest.
    for (let first = 0; first < DEVICES; first += DEVICES_PER_USER) {
      const token = first === 0 ? tokens.userToken : await benchUser(url, tokens.adminToken, `bench${first}`)
      for (let i = first; i < Math.min(DEVICES, first + DEVICES_PER_USER); i++) {
        await api(url, 'POST', '/api/devices', { token, body: { subscription: ready.subscriptions[i], name: `bench ${i}` } })
      }
      await api(url, 'POST', '/api/subscriptions', { token, body: { topic: 'bench.push', push: true } })
    }
    const finished = async () => {
      const rs = await db.execute('SELECT status, COUNT(*) AS n FROM Delivery GROUP BY status')
      return {
        sent: Number(rs.rows.find(r => r.status === 'sent')?.n ?? 0),
        other: rs.rows.filter(r => r.status !== 'sent' && r.status !== 'queued').reduce((a, r) => a + Number(r.n), 0),
      }
    }
    const round = async (first, count) => {
      const before = await finished()
      const t0 = Date.now()
      for (let i = first; i < first + count; i++) {
        await api(url, 'POST', '/api/topics/bench.push/messages', { token: tokens.sourceToken, body: { event: 'bench', data: { i }, notification: { title: `Bench ${i}`, body: 'x'.repeat(64) } } })
      }
      let now
      for (;;) {
        now = await finished()
        if (now.sent + now.other - before.sent - before.other >= count * DEVICES || Date.now() - t0 > 300_000) break
        // Polled from this process, which shares the cores: seldom, and the end is read below.
        await sleep(200)
      }
      // The last outcome's own write time (same clock), not when this loop noticed it.
      const last = await db.execute('SELECT MAX(updatedAt) AS last FROM Delivery')
      return { t0, sent: now.sent - before.sent, other: now.other - before.other, seconds: (Date.parse(String(last.rows[0].last)) - t0) / 1000 }
    }
    await round(0, WARMUP)
    await ask(service, 'reset')
    const cpu0 = cpuSeconds(server.pid)
    const { sent, other, seconds } = await round(WARMUP, NOTIFICATIONS)
    const cpu = cpuSeconds(server.pid) - cpu0
    const { received, problems } = await ask(service, 'count')
    return { kind: 'mercury', rep, pushes: TOTAL, sent, failed_or_expired: other, received, problems, seconds: +seconds.toFixed(2), pushes_per_s: Math.round(sent / seconds), server_cpu_s: +cpu.toFixed(2) }
  }
  finally {
    db.close()
    await stopServer(server)
  }
}

async function bare(service, ready, rep) {
  const vapid = webpush.generateVAPIDKeys()
  const agent = new https.Agent({ keepAlive: true, maxSockets: 256, ca: readFileSync(ready.certFile) })
  const loop = async (total) => {
    let next = 0
    let ok = 0
    let failed = 0
    const worker = async () => {
      while (next < total) {
        const n = next++
        try {
          await webpush.sendNotification(ready.subscriptions[n % DEVICES], payloadFor(Math.floor(n / DEVICES)), {
            vapidDetails: { subject: 'mailto:bench@localhost', publicKey: vapid.publicKey, privateKey: vapid.privateKey },
            TTL: 86400, urgency: 'normal', contentEncoding: 'aes128gcm', agent,
          })
          ok++
        }
        catch {
          failed++
        }
      }
    }
    // Same order as Mercury's queue: notification by notification, devices within.
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    return { ok, failed }
  }
  await loop(WARMUP * DEVICES)
  await ask(service, 'reset')
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const { ok, failed } = await loop(TOTAL)
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  agent.destroy()
  const { received, problems } = await ask(service, 'count')
  return { kind: 'bare', rep, pushes: TOTAL, sent: ok, failed_or_expired: failed, received, problems, seconds: +seconds.toFixed(2), pushes_per_s: Math.round(ok / seconds), server_cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(2) }
}

async function main() {
  ensureBuilt()
  const out = path.join(BENCH, 'results', `${stamp()}-push`)
  mkdirSync(out, { recursive: true })
  const service = fork(fileURLToPath(import.meta.url), ['--service'], { stdio: 'inherit' })
  const ready = await new Promise(resolve => service.once('message', resolve))
  log(`push service at ${ready.url}; ${DEVICES} devices × ${NOTIFICATIONS} notifications = ${TOTAL} pushes (after ${WARMUP * DEVICES} unmeasured), concurrency ${CONCURRENCY}`)
  const rows = []
  try {
    for (let rep = 1; rep <= REPEAT; rep++) {
      for (const kind of rep % 2 ? ['mercury', 'bare'] : ['bare', 'mercury']) {
        const row = kind === 'mercury' ? await mercury(service, ready, out, rep) : await bare(service, ready, rep)
        rows.push(row)
        appendFileSync(path.join(out, 'results.jsonl'), JSON.stringify(row) + '\n')
        log(JSON.stringify(row))
      }
    }
  }
  finally {
    service.send({ type: 'exit' })
  }
  const m = median(rows.filter(r => r.kind === 'mercury').map(r => r.pushes_per_s))
  const b = median(rows.filter(r => r.kind === 'bare').map(r => r.pushes_per_s))
  // The machine's speed drifts between runs: each repetition's pair ran back to back, so the
  // median of the per-repetition ratios is the steadier figure.
  const pairs = Array.from({ length: REPEAT }, (_, i) => {
    const mine = rows.find(r => r.kind === 'mercury' && r.rep === i + 1)
    const theirs = rows.find(r => r.kind === 'bare' && r.rep === i + 1)
    return { speed: mine.pushes_per_s / theirs.pushes_per_s, cpu: (theirs.server_cpu_s / theirs.sent) / (mine.server_cpu_s / mine.sent) }
  })
  const cpuPerPush = kind => median(rows.filter(r => r.kind === kind).map(r => r.server_cpu_s * 1000 / r.sent))
  console.log(`\n| pipeline | runs | pushes | pushes/s (median) | CPU ms per push (median) | x bare: pushes/s (median of paired runs) | x bare: pushes per CPU-s |\n|---|---|---|---|---|---|---|`)
  console.log(`| Mercury (publish → fanout → push → result rows sent) | ${REPEAT} | ${TOTAL} | ${m} | ${cpuPerPush('mercury').toFixed(2)} | ${median(pairs.map(p => p.speed)).toFixed(2)} (${pairs.map(p => p.speed.toFixed(2)).join(', ')}) | ${median(pairs.map(p => p.cpu)).toFixed(2)} |`)
  console.log(`| bare web-push loop | ${REPEAT} | ${TOTAL} | ${b} | ${cpuPerPush('bare').toFixed(2)} | 1.00 | 1.00 |`)
  console.log(`results: ${out}`)
}
