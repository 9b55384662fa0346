// Shared helpers of the benchmark scripts: paths, the built server, its environment, a fresh
// seeded data dir, /proc readings. Benchmarks only: nothing in `npm test` uses this.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const BENCH = path.join(ROOT, 'bench')
export const SERVER = path.join(ROOT, '.output/server/index.mjs')
export const PEERS_SRC = path.resolve(ROOT, '../shared/peers')
export const PEERS_DIR = path.join(BENCH, '.peers')
export const NODE = process.execPath

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
export const log = (...args) => console.error('[bench]', ...args)

/** What every benchmarked Mercury process gets: limits raised so that the load, not a limit, is measured. */
export function mercuryEnv(dataDir) {
  return {
    DATABASE_URL: `file:${path.join(dataDir, 'mercury.db')}`,
    MERCURY_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    MERCURY_MAX_CONNECTIONS_PER_USER: '20000',
    MERCURY_SOURCE_RATE_LIMIT: '1000000',
    MERCURY_DATALINK_FRAME_RATE: '1000000',
    // The bench's own history is irrelevant; keep the default size.
  }
}

/** `env VAR=… node server` for HUB_CMD (no spaces in our paths; checked). */
export function hubCmd(dataDir, { redis }) {
  const env = mercuryEnv(dataDir)
  for (const value of Object.values(env)) if (/\s/.test(value)) throw new Error(`no spaces allowed in bench paths: ${value}`)
  const unset = redis ? '' : '-u REDIS_URL -u NUXT_REDIS_URL '
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean).join(' ')
  return `env ${unset}${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} ${NODE} ${nodeArgs ? `${nodeArgs} ` : ''}${SERVER}`
}

export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options })
  if (result.status !== 0) throw new Error(`"${command} ${args.join(' ')}" failed (${result.status})`)
}

export function freePort(start = 19000) {
  return new Promise((resolve) => {
    const tryPort = (port) => {
      const server = net.createServer()
      server.once('error', () => tryPort(port + 1))
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(port)))
    }
    tryPort(start)
  })
}

export async function waitReady(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) before ${url} was ready`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
      if (res.ok) return
      last = `HTTP ${res.status}`
    }
    catch (error) {
      last = error.cause?.message ?? error.message
    }
    await sleep(200)
  }
  throw new Error(`${url} not ready: ${last}`)
}

/** Starts a built Mercury; resolves once /api/health answers. */
export async function startServer({ dataDir, port, redisUrl, extraEnv = {}, logFile, nodeArgs = [] }) {
  const env = { ...process.env, ...mercuryEnv(dataDir), PORT: String(port), NITRO_PORT: String(port), NITRO_HOST: '127.0.0.1', ...extraEnv }
  delete env.REDIS_URL
  delete env.NUXT_REDIS_URL
  if (redisUrl) env.REDIS_URL = redisUrl
  const out = logFile ? (await import('node:fs')).openSync(logFile, 'a') : 'ignore'
  // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the servers the scripts start.
  const envArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)
  const child = spawn(NODE, [...envArgs, ...nodeArgs, SERVER], { cwd: ROOT, env, stdio: ['ignore', out, out] })
  const url = `http://127.0.0.1:${port}`
  await waitReady(`${url}/api/health`, child)
  return { child, url, port, pid: child.pid }
}

export async function stopServer(server, timeoutMs = 10_000) {
  const { child } = server
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  await exited
  clearTimeout(timer)
}

export async function api(url, method, pathname, { token, cookie, body } = {}) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  if (cookie) headers.cookie = cookie
  const res = await fetch(url + pathname, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${pathname}: HTTP ${res.status} ${text.slice(0, 300)}`)
  return text ? JSON.parse(text) : null
}

/** Runs the migrations into a new SQLite file in `dataDir`. */
export function migrate(dataDir) {
  mkdirSync(dataDir, { recursive: true })
  run(path.join(ROOT, 'node_modules/.bin/prisma'), ['migrate', 'deploy'], {
    env: { ...process.env, DATABASE_URL: `file:${path.join(dataDir, 'mercury.db')}` },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
}

const ADMIN_PASSWORD = 'bench-admin-password'
const USER_PASSWORD = 'bench-user-password'

/**
 * A fresh data dir with a user who may read `bench.*` and an active source that may publish to
 * `bench.*`, made through the built server's REST API. Returns (and stores, mode 600) the tokens.
 */
export async function seedDataDir(dataDir, { port } = {}) {
  migrate(dataDir)
  const server = await startServer({ dataDir, port: port ?? await freePort(19500), extraEnv: { MERCURY_ADMIN_PASSWORD: ADMIN_PASSWORD } })
  try {
    const { url } = server
    const admin = await api(url, 'POST', '/api/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } })
    const user = await api(url, 'POST', '/api/admin/users', { token: admin.token, body: { username: 'bench', password: USER_PASSWORD } })
    await api(url, 'POST', '/api/admin/grants', { token: admin.token, body: { userId: user.id, topic: 'bench.*', read: true, publish: false } })
    const source = await api(url, 'POST', '/api/admin/sources', { token: admin.token, body: { name: 'bench', description: 'benchmark producer', topics: 'bench.*', status: 'active' } })
    const login = await api(url, 'POST', '/api/auth/login', { body: { username: 'bench', password: USER_PASSWORD } })
    const tokens = { userId: user.id, userToken: login.token, sourceToken: source.token, adminToken: admin.token, userPassword: USER_PASSWORD, adminPassword: ADMIN_PASSWORD }
    const file = path.join(dataDir, 'bench-tokens.json')
    writeFileSync(file, JSON.stringify(tokens, null, 2))
    chmodSync(file, 0o600)
    return tokens
  }
  finally {
    await stopServer(server)
  }
}

/**
 * What a one-server bench starts from: `bench/results/<stamp>-<name>/`, a data dir seeded in it
 * (seedDataDir) and one Mercury on that data (its log in the results dir).
 */
export async function startSeededServer(name, port) {
  const out = path.join(BENCH, 'results', `${stamp()}-${name}`)
  mkdirSync(out, { recursive: true })
  const dataDir = path.join(out, 'data')
  const tokens = await seedDataDir(dataDir)
  const server = await startServer({ dataDir, port: await freePort(port), logFile: path.join(out, 'server.log') })
  return { out, tokens, server }
}

export function readTokens(dataDir) {
  return JSON.parse(readFileSync(path.join(dataDir, 'bench-tokens.json'), 'utf8'))
}

export function ensureBuilt({ force = false } = {}) {
  if (!force && existsSync(SERVER) && process.env.BENCH_SKIP_BUILD === '1') return
  log('building Mercury (nuxt build)…')
  run(path.join(ROOT, 'node_modules/.bin/nuxt'), ['build'], { stdio: ['ignore', 'ignore', 'inherit'] })
}

// ---------- /proc ----------
export function cpuSeconds(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  }
  catch {
    return null
  }
}

export function memoryKb(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = key => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN)
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
  }
  catch {
    return { rss: NaN, hwm: NaN }
  }
}

export function median(values) {
  const sorted = values.filter(v => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return null
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

export function stamp() {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')
}

/**
 * Publishes `count` messages over /datalink, at most 64 awaiting their ack; `frame(i)` is the
 * publish frame of message i (without type and ref). Rejects on the first error frame.
 */
export async function publishOverDatalink(url, token, count, frame) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/datalink?token=${encodeURIComponent(token)}`)
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  let sent = 0
  let acked = 0
  await new Promise((resolve, reject) => {
    const pump = () => {
      while (sent < count && sent - acked < 64) {
        const i = sent++
        ws.send(JSON.stringify({ type: 'publish', ref: String(i), ...frame(i) }))
      }
    }
    ws.on('message', (raw) => {
      const f = JSON.parse(raw)
      if (f.type === 'error') return reject(new Error(raw.toString()))
      if (f.type === 'ack' && ++acked === count) return resolve()
      pump()
    })
    pump()
  })
  ws.close()
}
