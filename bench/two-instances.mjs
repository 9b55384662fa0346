#!/usr/bin/env node
// Redis mode with two instances. The peer harness drives one server process, so this loader
// (the harness's method, simplified) spreads the load itself: subscriber i connects to instance
// i % N, publish n goes to instance n % N (REST), so most deliveries cross Redis from the other
// instance. The same loader also runs one embedded instance and one Redis instance, so the
// per-CPU figures compare like with like.
//
//   node bench/two-instances.mjs          # SETUPS="embedded redis-1 redis-2" REPEAT=3
// Knobs: SUBS(500) TOPICS(10) MESSAGES(5000) RATE(500) WARMUP(500) CONCURRENCY(32) PAYLOAD(64)
// Both instances share one SQLite file (they write only counters) and one Redis (no persistence).
import { spawn } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import { mkdirSync, appendFileSync } from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { BENCH, cpuSeconds, ensureBuilt, freePort, log, median, memoryKb, percentile, seedDataDir, sleep, stamp, startServer, stopServer } from './lib.mjs'

const SUBS = Number(process.env.SUBS ?? 500)
const TOPICS = Number(process.env.TOPICS ?? 10)
const MESSAGES = Number(process.env.MESSAGES ?? 5000)
const RATE = Number(process.env.RATE ?? 500)
const WARMUP = Number(process.env.WARMUP ?? 500)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32)
const PAYLOAD = 'x'.repeat(Number(process.env.PAYLOAD ?? 64))
const SETUPS = (process.env.SETUPS ?? 'embedded redis-1 redis-2').split(/\s+/).filter(Boolean)
const REPEAT = Number(process.env.REPEAT ?? 3)
const now = () => performance.timeOrigin + performance.now()

async function startRedis(out) {
  const port = await freePort(6450)
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--logfile', path.join(out, 'redis.log')], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const s = new net.Socket()
      s.once('error', () => resolve(false))
      s.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
    })
    if (ok) break
    await sleep(100)
  }
  return { child, port, url: `redis://127.0.0.1:${port}`, pid: child.pid }
}
async function flushRedis(port) {
  await new Promise((resolve, reject) => {
    const s = new net.Socket()
    s.once('error', reject)
    s.connect(port, '127.0.0.1', () => s.end('*1\r\n$8\r\nFLUSHALL\r\n'))
    s.once('data', () => resolve())
  })
}

/** One measured run against `urls` (one or two instances). */
async function load(urls, tokens, pids, redisPid) {
  const subs = []
  let delivered = 0
  let lastDelivery = 0
  let lastProbe = 0
  const lat = []
  const subscribe = i => new Promise((resolve) => {
    const topic = `bench.${i % TOPICS}`
    const ws = new WebSocket(`${urls[i % urls.length].replace('http', 'ws')}/channel?token=${encodeURIComponent(tokens.userToken)}`, { perMessageDeflate: false })
    const sub = { topic, ws, ready: false, seen: new Uint8Array((MESSAGES >> 3) + 1) }
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topic })))
    ws.on('message', (raw) => {
      const f = JSON.parse(raw)
      if (f.type === 'subscribed') {
        subs.push(sub)
        resolve()
      }
      else if (f.type === 'message' && f.topic === topic) {
        const { seq, sentAt } = f.data
        if (seq < 0) {
          sub.ready = true
          lastProbe = now()
          return
        }
        const bit = 1 << (seq & 7)
        if (sub.seen[seq >> 3] & bit) return
        sub.seen[seq >> 3] |= bit
        const t = now()
        delivered++
        lastDelivery = t
        lat.push(t - sentAt)
      }
    })
    ws.on('error', () => resolve())
  })
  for (let i = 0; i < SUBS; i += 100) await Promise.all(Array.from({ length: Math.min(100, SUBS - i) }, (_, j) => subscribe(i + j)))
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  let errors = 0
  const publish = (n, seq) => new Promise((resolve) => {
    const k = n % TOPICS
    const base = new URL(urls[n % urls.length])
    const body = JSON.stringify({ event: 'bench', data: { topic: `bench.${k}`, seq, sentAt: now(), payload: PAYLOAD } })
    const req = http.request({ host: base.hostname, port: base.port, path: `/api/topics/bench.${k}/messages`, method: 'POST', agent, headers: { 'authorization': `Bearer ${tokens.sourceToken}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode < 300))
    })
    req.on('error', () => resolve(false))
    req.end(body)
  })
  const publishAll = (count, warm) => new Promise((resolve) => {
    const t0 = now()
    let i = 0
    let inflight = 0
    const pump = () => {
      const due = Math.min(count, Math.floor(((now() - t0) * RATE) / 1000) + 1)
      while (i < due && inflight < CONCURRENCY) {
        const n = i++
        inflight++
        void publish(n, warm ? -1_000_000 - n : n).then((ok) => {
          inflight--
          if (!ok && !warm) errors++
          if (i >= count && inflight === 0) resolve(now() - t0)
        })
      }
      if (i < count) setTimeout(pump, 1)
    }
    pump()
  })
  // readiness: probes until every subscriber got one on its topic
  for (let round = 1; subs.some(s => !s.ready) && round < 50; round++) {
    await Promise.all([...new Set(subs.filter(s => !s.ready).map(s => Number(s.topic.split('.')[1])))].map(k => publish(k, -round)))
    await sleep(300)
  }
  if (WARMUP) await publishAll(WARMUP, true)
  do await sleep(100)
  while (now() - lastProbe < 500)
  const cpu0 = pids.map(cpuSeconds)
  const redis0 = redisPid ? cpuSeconds(redisPid) : 0
  const start = now()
  const pubMs = await publishAll(MESSAGES, false)
  const published = MESSAGES - errors
  const expected = published * (SUBS / TOPICS)
  const pubEnd = now()
  while (delivered < expected && now() - Math.max(lastDelivery, pubEnd) < 3000) await sleep(25)
  const cpu = pids.map((pid, i) => cpuSeconds(pid) - cpu0[i])
  const redisCpu = redisPid ? cpuSeconds(redisPid) - redis0 : null
  for (const s of subs) s.ws.terminate()
  agent.destroy()
  lat.sort((a, b) => a - b)
  const serverCpu = cpu.reduce((a, b) => a + b, 0)
  return {
    instances: urls.length, subscribed: subs.length, published, publish_errors: errors, publish_rate: +(published / (pubMs / 1000)).toFixed(1),
    expected, delivered, lost: expected - delivered,
    lat_p50_ms: +percentile(lat, 50).toFixed(2), lat_p99_ms: +percentile(lat, 99).toFixed(2), lat_max_ms: +percentile(lat, 100).toFixed(2),
    server_cpu_s: +serverCpu.toFixed(2), per_instance_cpu_s: cpu.map(c => +c.toFixed(2)), redis_cpu_s: redisCpu == null ? null : +redisCpu.toFixed(2),
    deliveries_per_server_cpu_s: Math.round(delivered / serverCpu),
    load_span_s: +(((lastDelivery || pubEnd) - start) / 1000).toFixed(2),
    vmhwm_mb: pids.map(pid => +(memoryKb(pid).hwm / 1024).toFixed(1)),
  }
}

async function main() {
  ensureBuilt()
  const out = path.join(BENCH, 'results', `${stamp()}-two-instances`)
  mkdirSync(out, { recursive: true })
  const dataDir = path.join(out, 'data')
  const tokens = await seedDataDir(dataDir)
  const redis = await startRedis(out)
  const file = path.join(out, 'results.jsonl')
  const rows = []
  try {
    for (let rep = 1; rep <= REPEAT; rep++) {
      for (const setup of SETUPS) {
        await flushRedis(redis.port)
        const count = setup === 'redis-2' ? 2 : 1
        const servers = []
        for (let i = 0; i < count; i++) {
          servers.push(await startServer({ dataDir, port: await freePort(19200 + 10 * i), redisUrl: setup === 'embedded' ? undefined : redis.url, logFile: path.join(out, `${setup}-${i}.log`) }))
        }
        await sleep(500)
        log(`${setup} r${rep}`)
        try {
          const row = { setup, rep, ...await load(servers.map(s => s.url), tokens, servers.map(s => s.pid), setup === 'embedded' ? null : redis.pid) }
          rows.push(row)
          appendFileSync(file, JSON.stringify(row) + '\n')
          log(JSON.stringify(row))
        }
        finally {
          for (const s of servers) await stopServer(s)
        }
      }
    }
  }
  finally {
    redis.child.kill('SIGTERM')
  }
  console.log('\n| setup | runs | lost (sum) | p50 ms | p99 ms | server cpu s | redis cpu s | deliv/srv-cpu-s | x embedded |')
  console.log('|---|---|---|---|---|---|---|---|---|')
  const emb = median(rows.filter(r => r.setup === 'embedded').map(r => r.deliveries_per_server_cpu_s))
  for (const setup of SETUPS) {
    const mine = rows.filter(r => r.setup === setup)
    const cpu = median(mine.map(r => r.deliveries_per_server_cpu_s))
    console.log(`| ${setup} | ${mine.length} | ${mine.reduce((a, r) => a + r.lost, 0)}/${mine.reduce((a, r) => a + r.expected, 0)} | ${median(mine.map(r => r.lat_p50_ms))} | ${median(mine.map(r => r.lat_p99_ms))} | ${median(mine.map(r => r.server_cpu_s))} | ${median(mine.map(r => r.redis_cpu_s)) ?? '-'} | ${cpu} | ${emb ? (cpu / emb).toFixed(2) : '-'} |`)
  }
  console.log(`results: ${file}`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
