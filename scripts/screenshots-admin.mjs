// `node scripts/screenshots-admin.mjs`: screenshots of the admin console, light and dark, into
// docs/screenshots/admin-*.png. Runs the built app (.output; `npx nuxt build` first) on a
// throwaway database with sample sources, users and a live telemetry stream.
// Without the delivery pipeline on this server, the deliveries page is fed sample rows.
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = path.join(root, 'docs/screenshots')
const password = 'screenshots-admin-password'

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function startServer() {
  const dir = mkdtempSync(path.join(tmpdir(), 'mercury-shots-'))
  const url = `file:${path.join(dir, 'mercury.db')}`
  const migrate = spawnSync(path.join(root, 'node_modules/.bin/prisma'), ['migrate', 'deploy'], { cwd: root, env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8' })
  if (migrate.status !== 0) throw new Error(migrate.stderr)
  const port = await freePort()
  const child = spawn(process.execPath, [path.join(root, '.output/server/index.mjs')], {
    cwd: dir,
    env: { ...process.env, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: url, MERCURY_DATA_DIR: dir, MERCURY_ADMIN_PASSWORD: password },
    stdio: 'ignore',
  })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/api/health`)).ok) break
    }
    catch { /* starting */ }
    if (i > 300) throw new Error('server did not start')
    await new Promise(r => setTimeout(r, 100))
  }
  const stop = () => {
    child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  }
  return { base, stop }
}

async function api(base, token, method, route, body) {
  const res = await fetch(base + route, {
    method, headers: { 'authorization': `Bearer ${token}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`)
  return text ? JSON.parse(text) : null
}

async function seed(base) {
  const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) })
  const { token } = await login.json()
  const call = (method, route, body) => api(base, token, method, route, body)
  const sources = {}
  for (const [name, description, topics, status] of [
    ['greenhouse', 'Temperature and humidity sensors, roof greenhouse', 'sensors.greenhouse.*', 'active'],
    ['billing', 'Invoices and payment events', 'billing.*', 'active'],
    ['ci-runner', 'Build results from the CI cluster', 'ci.*, deploys.*', 'active'],
    ['legacy-cron', 'Nightly jobs of the old server', '*', 'active'],
    ['weather-api', 'Forecast importer (not yet live)', 'weather.*', 'draft'],
  ]) {
    sources[name] = await call('POST', '/api/admin/sources', { name, description, topics, status })
  }
  await call('POST', `/api/admin/sources/${sources['legacy-cron'].source.id}/deactivate`)
  const users = {}
  for (const [username, role] of [['maria', 'admin'], ['tom', 'user'], ['lee', 'user'], ['sam', 'user']]) {
    users[username] = await call('POST', '/api/admin/users', { username, password: 'sample-password-1', role })
  }
  const ops = await call('POST', '/api/admin/groups', { name: 'operations', description: 'On-call engineers' })
  const finance = await call('POST', '/api/admin/groups', { name: 'finance', description: 'Billing team' })
  for (const u of ['tom', 'lee']) await call('POST', `/api/admin/groups/${ops.id}/members`, { userId: users[u].id })
  await call('POST', `/api/admin/groups/${finance.id}/members`, { userId: users.sam.id })
  await call('POST', '/api/admin/grants', { groupId: ops.id, topic: 'ci.*', read: true })
  await call('POST', '/api/admin/grants', { groupId: ops.id, topic: 'sensors.*', read: true })
  await call('POST', '/api/admin/grants', { groupId: finance.id, topic: 'billing.*', read: true, publish: true })
  await call('POST', '/api/admin/grants', { userId: users.tom.id, topic: 'deploys.*', read: true, publish: true })
  return { token, sources }
}

/** Streams greenhouse telemetry and a trickle of other events until stopped. */
function stream(base, sources) {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/datalink?token=${sources.greenhouse.token}`)
  const other = new WebSocket(`${base.replace('http', 'ws')}/datalink?token=${sources['ci-runner'].token}`)
  let i = 0
  const timer = setInterval(() => {
    i++
    const t = i / 10
    if (ws.readyState === 1) {
      ws.send(JSON.stringify({ type: 'publish', topic: 'sensors.greenhouse.north', event: 'reading', data: {
        temp: Math.round((21 + 2 * Math.sin(t) + Math.random() * 0.4) * 10) / 10,
        humidity: Math.round((55 + 6 * Math.cos(t / 1.7) + Math.random()) * 10) / 10,
        soil: Math.round((34 + 3 * Math.sin(t / 2.3)) * 10) / 10,
      } }))
    }
    if (i % 7 === 0 && other.readyState === 1) {
      other.send(JSON.stringify({ type: 'publish', topic: 'ci.builds', event: 'build', data: { job: `web#${1200 + i}`, seconds: 40 + (i % 13) } }))
    }
  }, 120)
  return () => {
    clearInterval(timer)
    ws.close()
    other.close()
  }
}

function sampleDeliveries() {
  const now = Date.now()
  const rows = [
    ['sent', 201, null, 'Disk almost full', 'alerts.disk', 'Pixel 8', 'tom', 'fcm.googleapis.com'],
    ['failed', 410, 'push subscription has expired or was unsubscribed', 'Build failed: web#1288', 'ci.builds', 'Firefox on laptop', 'lee', 'updates.push.services.mozilla.com'],
    ['sent', 201, null, 'Invoice 2026-114 paid', 'billing.invoices', 'iPhone', 'sam', 'web.push.apple.com'],
    ['queued', null, null, 'Deploy started', 'deploys.prod', 'Chrome on desktop', 'tom', 'fcm.googleapis.com'],
    ['failed', 429, 'rate limited; gave up after 5 attempts', 'Greenhouse too hot', 'sensors.greenhouse.north', 'Edge on tablet', 'lee', 'wns2-par02p.notify.windows.com'],
    ['expired', null, 'TTL elapsed before the device came online', 'Nightly report', 'reports.daily', 'Old phone', 'maria', 'fcm.googleapis.com'],
    ['sent', 201, null, 'Build passed: web#1281', 'ci.builds', 'Pixel 8', 'tom', 'fcm.googleapis.com'],
  ]
  return {
    items: rows.map(([status, statusCode, error, title, topic, device, username, host], i) => ({
      id: `d${i}`, status, attempts: status === 'failed' ? (statusCode === 429 ? 5 : 1) : 1, statusCode, error,
      createdAt: new Date(now - i * 95_000).toISOString(), updatedAt: new Date(now - i * 90_000).toISOString(),
      device: { id: `dev${i % 4}`, name: device, endpoint: `https://${host}/send/abc${i}`, userId: `u${i}`, username },
      notification: { id: `n${i}`, title, topic },
    })),
    counts: { queued: 1, sent: 1284, failed: 17, expired: 3 },
  }
}

const server = await startServer()
const browser = await chromium.launch({
  executablePath: process.env.MERCURY_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking'],
})
let stopStream = () => {}
try {
  mkdirSync(out, { recursive: true })
  const { sources } = await seed(server.base)
  stopStream = stream(server.base, sources)
  await new Promise(r => setTimeout(r, 4000))
  for (const scheme of ['light', 'dark']) {
    const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 })
    await context.request.post(`${server.base}/api/auth/login`, { data: { username: 'admin', password } })
    const page = await context.newPage()
    await page.route('**/api/admin/deliveries**', async (route) => {
      const real = await route.fetch()
      // Real deliveries when there are some; this server has pushed to no device.
      if (real.ok() && (await real.json()).items?.length) return route.fulfill({ response: real })
      return route.fulfill({ json: sampleDeliveries() })
    })
    const shoot = async (name, pathname, ready) => {
      await page.goto(`${server.base}${pathname}`)
      await page.locator('[data-testid="admin-live"][data-status="open"]').waitFor()
      if (ready) await ready()
      await page.waitForTimeout(2500)
      await page.screenshot({ path: path.join(out, `admin-${name}-${scheme}.png`), fullPage: true })
      console.log(`docs/screenshots/admin-${name}-${scheme}.png`)
    }
    await shoot('dashboard', '/admin?topic=sensors.greenhouse.north', () => page.locator('[data-testid="topic-chart"] canvas').waitFor())
    await shoot('sources', '/admin/sources', () => page.locator('[data-testid^="source-row-"]').first().waitFor())
    await shoot('deliveries', '/admin/deliveries', () => page.locator('[data-testid="delivery-row"]').first().waitFor())
    await shoot('users', '/admin/users', () => page.locator('[data-testid^="user-row-"]').first().waitFor())
    await shoot('groups', '/admin/groups', () => page.locator('[data-testid^="group-"]').first().waitFor())
    await context.close()
  }
}
finally {
  stopStream()
  await browser.close()
  server.stop()
}
