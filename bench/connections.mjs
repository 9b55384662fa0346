#!/usr/bin/env node
// 10,000 idle /channel connections on one Mercury instance (embedded mode): memory per connection,
// then publishes that every connection receives (all follow `bench.all`, and each one topic of
// its own group too), with publish-to-receive latency over all of them.
//
//   node bench/connections.mjs            # CONNS=10000 TOPICS=100 PUBLISHES=10 CLIENTS=2
//   TARGET=ws node bench/connections.mjs  # the same against the harness's bare `ws` server (the
//                                         # ceiling: one topic per connection, POST /publish)
// The clients are spread over CLIENTS child processes (one event loop reading 10,000 sockets
// would itself add most of the latency). The file-descriptor limit is raised with `ulimit -n`.
import { fork, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import WebSocket from 'ws'
import { BENCH, cpuSeconds, freePort, log, median, memoryKb, percentile, seedDataDir, sleep, stamp, startServer, stopServer, ensureBuilt } from './lib.mjs'

const CONNS = Number(process.env.CONNS ?? 10_000)
const TOPICS = Number(process.env.TOPICS ?? 100)
const PUBLISHES = Number(process.env.PUBLISHES ?? 10)
const CLIENTS = Number(process.env.CLIENTS ?? 2)
const TARGET = process.env.TARGET ?? 'mercury'

// ---------- client process: opens its share of the connections, reports receive times ----------
if (process.argv[2] === '--client') {
  const [, , , url, token, first, count] = process.argv
  const sockets = []
  const received = [] // [seq, receivedAt] pairs, flattened
  let subscribed = 0
  let closed = 0
  const bare = TARGET === 'ws'
  const open = i => new Promise((resolve) => {
    const address = bare ? `${url.replace('http', 'ws')}/ws?topic=bench.all` : `${url.replace('http', 'ws')}/channel?token=${encodeURIComponent(token)}`
    const ws = new WebSocket(address, { perMessageDeflate: false })
    let done = false
    const finish = (ok) => {
      if (!done) {
        done = true
        resolve(ok)
      }
    }
    ws.on('open', () => {
      if (bare) {
        subscribed++
        return finish(true)
      }
      ws.send(JSON.stringify({ type: 'subscribe', topic: 'bench.all' }))
      ws.send(JSON.stringify({ type: 'subscribe', topic: `bench.c${i % TOPICS}` }))
    })
    let acks = 0
    ws.on('message', (raw) => {
      const text = raw.toString()
      if (bare || text.startsWith('{"type":"message"')) {
        // Cheap: the bench's own data is {"seq":n,"sentAt":t}; no full parse on the hot path.
        const at = Date.now()
        const m = /"seq":(\d+)/.exec(text)
        if (m) received.push(Number(m[1]), at)
      }
      else if (text.startsWith('{"type":"subscribed"') && ++acks === 2) {
        subscribed++
        finish(true)
      }
      else if (text.startsWith('{"type":"error"')) finish(false)
    })
    ws.on('error', () => finish(false))
    ws.on('close', () => {
      closed++
      finish(false)
    })
    sockets.push(ws)
  })
  process.on('message', async (msg) => {
    if (msg.type === 'connect') {
      for (let i = 0; i < Number(count); i += 250) {
        await Promise.all(Array.from({ length: Math.min(250, Number(count) - i) }, (_, j) => open(Number(first) + i + j)))
      }
      process.send({ type: 'connected', subscribed, closed })
    }
    if (msg.type === 'report') process.send({ type: 'report', received, closed })
    if (msg.type === 'exit') {
      for (const ws of sockets) ws.terminate()
      process.exit(0)
    }
  })
  process.send({ type: 'ready' })
}
else {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}

/** The harness's bare `ws` server (bench/.peers, copied by `npm run bench`), same Node. */
async function startBareWs(out) {
  const script = path.join(BENCH, '.peers/servers/ws-server.mjs')
  if (!existsSync(script)) throw new Error(`${script} not found: run \`npm run bench\` once (it copies ../shared/peers)`)
  const port = await freePort(19150)
  const child = spawn(process.execPath, [script], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', openSync(path.join(out, 'server.log'), 'a'), 'inherit'] })
  for (let i = 0; i < 100 && !await portOpen(port); i++) await sleep(100)
  return { child, url: `http://127.0.0.1:${port}`, port, pid: child.pid }
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}

function once(child, type) {
  return new Promise(resolve => child.on('message', function handler(msg) {
    if (msg.type === type) {
      child.off('message', handler)
      resolve(msg)
    }
  }))
}

async function main() {
  const limit = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim())
  if (limit < CONNS + 1000 && !process.env.BENCH_ULIMIT_RAISED) {
    // The limit is per process: the server needs one descriptor per connection (clients are
    // spread over CLIENTS processes). Children inherit the raised limit.
    const result = spawnSync('bash', ['-c', `(ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)") && exec "${process.execPath}" "${process.argv[1]}"`], { stdio: 'inherit', env: { ...process.env, BENCH_ULIMIT_RAISED: '1' } })
    process.exit(result.status ?? 1)
  }
  ensureBuilt()
  const out = path.join(BENCH, 'results', `${stamp()}-connections`)
  mkdirSync(out, { recursive: true })
  const dataDir = path.join(out, 'data')
  const tokens = TARGET === 'ws' ? { userToken: '-', sourceToken: '-' } : await seedDataDir(dataDir)
  const server = TARGET === 'ws' ? await startBareWs(out) : await startServer({ dataDir, port: await freePort(19100), logFile: path.join(out, 'server.log') })
  const children = []
  try {
    await sleep(2000)
    const before = memoryKb(server.pid).rss
    log(`server RSS before: ${(before / 1024).toFixed(1)} MB; opening ${CONNS} connections over ${CLIENTS} client processes`)
    const per = Math.ceil(CONNS / CLIENTS)
    for (let c = 0; c < CLIENTS; c++) {
      const child = fork(process.argv[1], ['--client', server.url, tokens.userToken, String(c * per), String(Math.min(per, CONNS - c * per))], { stdio: 'inherit' })
      await once(child, 'ready')
      children.push(child)
    }
    const t0 = Date.now()
    const connected = await Promise.all(children.map(async (child) => {
      const done = once(child, 'connected')
      child.send({ type: 'connect' })
      return done
    }))
    const subscribed = connected.reduce((a, m) => a + m.subscribed, 0)
    const connectMs = Date.now() - t0
    log(`${subscribed}/${CONNS} subscribed (${TARGET === 'ws' ? 1 : 2} topics each) in ${connectMs} ms`)
    await sleep(5000)
    const after = memoryKb(server.pid).rss
    const perConnKb = (after - before) / subscribed
    log(`server RSS after: ${(after / 1024).toFixed(1)} MB → ${perConnKb.toFixed(1)} KB per idle connection`)

    const { sourceToken } = tokens
    const sent = []
    const fanoutCpuMs = []
    for (let seq = 0; seq < PUBLISHES; seq++) {
      const cpuBefore = cpuSeconds(server.pid)
      const sentAt = Date.now()
      sent.push(sentAt)
      const res = TARGET === 'ws'
        ? await fetch(`${server.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'bench.all', seq, sentAt, payload: null }) })
        : await fetch(`${server.url}/api/topics/bench.all/messages`, {
            method: 'POST',
            headers: { 'authorization': `Bearer ${sourceToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ event: 'bench', data: { seq, sentAt } }),
          })
      if (!res.ok) throw new Error(`publish: HTTP ${res.status}`)
      await sleep(1000)
      // The server is otherwise idle: its CPU over this second is the publish and its fan-out.
      fanoutCpuMs.push(Math.round((cpuSeconds(server.pid) - cpuBefore) * 1000))
    }
    await sleep(2000)
    const reports = await Promise.all(children.map(async (child) => {
      const done = once(child, 'report')
      child.send({ type: 'report' })
      return done
    }))
    const latencies = []
    for (const { received } of reports) {
      for (let i = 0; i < received.length; i += 2) latencies.push(received[i + 1] - sent[received[i]])
    }
    latencies.sort((a, b) => a - b)
    const expected = subscribed * PUBLISHES
    const result = {
      target: TARGET, connections: CONNS, subscribed, topics_per_connection: TARGET === 'ws' ? 1 : 2, publishes: PUBLISHES,
      rss_before_mb: +(before / 1024).toFixed(1), rss_after_mb: +(after / 1024).toFixed(1),
      kb_per_idle_connection: +perConnKb.toFixed(1),
      expected, delivered: latencies.length, lost: expected - latencies.length,
      closed: reports.reduce((a, r) => a + r.closed, 0),
      lat_p50_ms: percentile(latencies, 50), lat_p99_ms: percentile(latencies, 99), lat_max_ms: percentile(latencies, 100),
      server_cpu_ms_per_publish: median(fanoutCpuMs), client_processes: CLIENTS, connect_s: +(connectMs / 1000).toFixed(1),
      server_vmhwm_mb: +(memoryKb(server.pid).hwm / 1024).toFixed(1),
    }
    writeFileSync(path.join(out, 'result.json'), JSON.stringify(result, null, 2))
    console.log(JSON.stringify(result))
  }
  finally {
    for (const child of children) child.send({ type: 'exit' })
    await stopServer(server)
  }
}
