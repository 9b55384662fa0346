import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Redis from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ADMIN_PASSWORD, createTestDatabase, runSql, startServer, type RunningServer, type TestDatabase } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, publisher } from '../helpers/fixtures'
import { TestPushService } from '../helpers/push-service'
import { startRedis, type RunningRedis } from '../helpers/redis'

// An operator who started on SQLite moves to PostgreSQL and Redis with `npm run copy-database`:
// what they built through the API before is there after, and offsets keep increasing.
const root = path.resolve(import.meta.dirname, '../..')
const script = path.join(root, 'scripts/copy-database.mjs')

function copy(...args: string[]) {
  const run = spawnSync(process.execPath, [script, ...args], { cwd: root, encoding: 'utf8' })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

const PASSWORD = 'carol-pässwörd ✓'

let push: TestPushService
let redis: RunningRedis
let sqlite: TestDatabase
let target: TestDatabase
let after: RunningServer | undefined
let sqliteFile: string
let copied: ReturnType<typeof copy>
let whileServed: ReturnType<typeof copy>
let carol: { id: string, personalToken: string, cookie: string }
let sourceToken: string
let oldOffsets: number[]
/** What the API showed on SQLite, to compare with what it shows on PostgreSQL. */
let before: Record<string, unknown>

const pushEnv = () => ({ MERCURY_PUSH_ALLOW_INSECURE: '1', NODE_EXTRA_CA_CERTS: push.certFile })

/** What a user and an admin see through the API: everything the copy must keep. */
async function snapshot(server: string, user: ApiClient, admin: ApiClient, deviceId: string) {
  const tokens = (await user.get('/api/me/tokens')).body as { id: string, name: string, createdAt: string }[]
  return {
    me: (await user.get('/api/me')).body,
    // lastUsedAt changes as the tokens are used: the rest must not.
    tokens: tokens.map(({ id, name, createdAt }) => ({ id, name, createdAt })),
    subscriptions: (await user.get('/api/subscriptions')).body,
    devices: (await user.get('/api/devices')).body,
    deliveries: (await user.get(`/api/devices/${deviceId}/deliveries`)).body,
    inbox: (await user.get('/api/inbox?limit=100')).body,
    groups: (await admin.get('/api/admin/groups')).body,
    grants: (await admin.get('/api/admin/grants')).body,
    users: (await admin.get('/api/admin/users')).body,
    publicKey: (await new ApiClient(server).get('/api/push/public-key')).body,
  }
}

let deviceId: string

describe.skipIf(!process.env.MERCURY_TEST_SCALEOUT_PG_URL)('copying a SQLite database to PostgreSQL', () => {
  beforeAll(async () => {
    push = new TestPushService()
    await push.start()
    sqlite = await createTestDatabase({ sqlite: true })
    sqliteFile = sqlite.url.slice('file:'.length)
    const old = await startServer({ db: sqlite, env: pushEnv() })
    try {
      const admin = new ApiClient(old.url)
      await admin.login('admin', ADMIN_PASSWORD)
      const created = await admin.post('/api/admin/users', { username: 'carol', password: PASSWORD })
      expect(created.status).toBe(201)
      const group = await admin.post('/api/admin/groups', { name: 'Nachtschicht ☾', description: 'on call — 夜勤' })
      expect(group.status).toBe(201)
      expect((await admin.post(`/api/admin/groups/${group.body.id}/members`, { userId: created.body.id })).status).toBe(201)
      expect((await admin.post('/api/admin/grants', { groupId: group.body.id, topic: 'alerts.*', read: true })).status).toBe(201)
      expect((await admin.post('/api/admin/grants', { userId: created.body.id, topic: 'alerts.carol', read: true, publish: true })).status).toBe(201)
      sourceToken = (await createActiveSource(admin, 'monitor', 'alerts.*')).token

      const user = new ApiClient(old.url)
      await user.login('carol', PASSWORD)
      const personal = await user.post('/api/me/tokens', { name: 'backup script ✓' })
      expect(personal.status).toBe(201)
      expect((await user.post('/api/subscriptions', { topic: 'alerts.disk', push: true })).status).toBe(201)
      expect((await user.post('/api/subscriptions', { topic: 'alerts.cpu', push: false })).status).toBe(201)
      const device = await user.post('/api/devices', { subscription: push.subscribe('carol-phone').subscription, name: 'Carol’s phone 📱' })
      expect(device.status).toBe(201)
      deviceId = device.body.id
      carol = { id: created.body.id, personalToken: personal.body.token, cookie: user.cookie }

      const producer = publisher(old.url, sourceToken)
      const published = []
      const notifications: string[] = []
      for (let i = 1; i <= 4; i++) {
        const notification = await producer.post('/api/topics/alerts.disk/messages', {
          event: 'disk',
          data: { percent: 90 + i, host: 'ümlaut-host', note: 'naïve 🚀', empty: null },
          notification: { title: `Disk ${i} — fast voll 💾`, body: `sda${i} is at ${90 + i}%`, url: '/disks', priority: i === 4 ? 5 : 3 },
        })
        notifications.push(notification.body.id)
        published.push(notification)
        published.push(await producer.post('/api/topics/alerts.disk/messages', { data: { plain: i } }))
      }
      published.push(await producer.post('/api/topics/alerts.cpu/messages', { notification: { title: 'CPU hot' } }))
      for (const res of published) expect(res.status).toBe(201)
      oldOffsets = published.filter(res => res.body.topic === 'alerts.disk').map(res => res.body.offset as number)

      // Each notification of alerts.disk is pushed to the device: deliveries with a log.
      await vi.waitFor(async () => {
        const deliveries = (await user.get(`/api/devices/${deviceId}/deliveries`)).body as { status: string }[]
        expect(deliveries.filter(d => d.status === 'sent')).toHaveLength(4)
        expect((await user.get('/api/inbox')).body.items).toHaveLength(5)
      }, { timeout: 15_000, interval: 100 })
      expect((await user.post('/api/inbox/read', { ids: notifications.slice(0, 2) })).status).toBe(200)
      before = await snapshot(old.url, user, admin, deviceId)

      whileServed = copy('--from', sqliteFile, '--to', 'postgresql://127.0.0.1:1/unused')
    }
    finally {
      await old.stop()
    }

    redis = await startRedis()
    target = await createTestDatabase({ postgres: true })
    copied = copy('--from', sqliteFile, '--to', target.url, '--redis', redis.url)
    if (copied.status !== 0) throw new Error(`the copy failed:\n${copied.stdout}${copied.stderr}`)
    // The session secret of the data directory, carried over as OPERATIONS.md says.
    const sessionSecret = readFileSync(path.join(sqlite.dataDir, 'session-secret'), 'utf8').trim()
    after = await startServer({ db: target, env: { ...pushEnv(), REDIS_URL: redis.url, NUXT_SESSION_PASSWORD: sessionSecret } })
  })

  afterAll(async () => {
    await after?.stop()
    await target?.drop()
    await sqlite?.drop()
    await redis?.stop()
    await push?.stop()
  })

  it('refuses to copy a SQLite file that a running server holds, naming the server', () => {
    expect(whileServed.status).toBe(1)
    expect(whileServed.stderr.trim()).toMatch(/^mercury: a Mercury server \(pid \d+\) is serving .*mercury\.db: stop it first/)
  })

  it('prints a summary with every table\'s rows, checked against SQLite', () => {
    expect(copied.stdout).toMatch(/^ {2}InboxItem +5$/m)
    expect(copied.stdout).toMatch(/^ {2}Notification +5$/m)
    expect(copied.stdout).toMatch(/^ {2}Delivery +4$/m)
    expect(copied.stdout).toContain('Every table holds as many rows as in SQLite.')
    expect(copied.stdout).toMatch(/Offsets: 2 of 2 topic counters raised in Redis/)
  })

  it('keeps users, tokens, groups, grants, subscriptions, devices, deliveries, the inbox with its read state and the VAPID key', async () => {
    const admin = new ApiClient(after!.url)
    await admin.login('admin', ADMIN_PASSWORD)
    const user = new ApiClient(after!.url)
    user.token = carol.personalToken
    const now = await snapshot(after!.url, user, admin, deviceId)
    expect(now).toEqual(before)
    expect((now.inbox as { unread: number }).unread).toBe(3)
    expect((now.deliveries as { log: unknown[] }[])[0]!.log).toHaveLength(1)
  })

  it('stores the same values as SQLite: dates to the millisecond, booleans, JSON text, nulls and unicode', async () => {
    const fromSqlite = await runSql<Record<string, unknown>>(sqlite, `SELECT n."id", n."title", n."data", n."url", n."createdAt", d."log", d."updatedAt" FROM "Notification" n LEFT JOIN "Delivery" d ON d."notificationId" = n."id" ORDER BY n."id"`)
    const fromPostgres = await runSql<Record<string, unknown>>(target, `SELECT n."id", n."title", n."data", n."url", n."createdAt"::text AS "createdAt", d."log", d."updatedAt"::text AS "updatedAt" FROM "Notification" n LEFT JOIN "Delivery" d ON d."notificationId" = n."id" WHERE n."title" <> 'after the move' ORDER BY n."id" COLLATE "C"`)
    // SQLite keeps ISO text with an offset; PostgreSQL's TIMESTAMP(3) as text has neither T nor zone.
    const asIso = (value: unknown) => value === null ? null : new Date(/\+|Z$/.test(String(value)) ? String(value) : `${String(value).replace(' ', 'T')}Z`).toISOString()
    const normalized = (rows: Record<string, unknown>[]) => rows.map(row => ({ ...row, createdAt: asIso(row.createdAt), updatedAt: asIso(row.updatedAt) }))
    expect(normalized(fromPostgres)).toEqual(normalized(fromSqlite))
    expect(fromPostgres.some(row => row.url === null && row.data === null && row.log === null)).toBe(true)
    expect(await runSql(target, `SELECT "topic", "read", "publish" FROM "Grant" ORDER BY "topic"`)).toEqual([
      { topic: 'alerts.*', read: true, publish: false },
      { topic: 'alerts.carol', read: true, publish: true },
    ])
  })

  it('lets the user log in with the same password, and keeps their session cookie when the session secret is carried over', async () => {
    const login = await new ApiClient(after!.url).post('/api/auth/login', { username: 'carol', password: PASSWORD })
    expect(login.status).toBe(200)
    expect(login.body.user.id).toBe(carol.id)
    const withCookie = new ApiClient(after!.url)
    withCookie.cookie = carol.cookie
    expect((await withCookie.get('/api/me')).body.user.id).toBe(carol.id)
  })

  it('lets the source publish with its old token, at an offset above every offset handed out before', async () => {
    const res = await publisher(after!.url, sourceToken).post('/api/topics/alerts.disk/messages', { notification: { title: 'after the move' } })
    expect(res.status).toBe(201)
    expect(res.body.offset).toBeGreaterThan(Math.max(...oldOffsets))
    const user = new ApiClient(after!.url)
    user.token = carol.personalToken
    await expect.poll(async () => (await user.get('/api/inbox')).body.items[0]?.title).toBe('after the move')
  })

  it('refuses a target that already holds data, with one line naming what it holds', () => {
    const refused = copy('--from', sqliteFile, '--to', target.url)
    expect(refused.status).toBe(1)
    expect(refused.stderr.trim().split('\n')).toHaveLength(1)
    expect(refused.stderr.trim()).toMatch(/^mercury: .* already holds data \(.*User: 2.*\): .*--replace to delete what it holds$/)
  })

  it('never lowers a Redis counter that is already higher, and copies over a target\'s data with --replace', async () => {
    const probe = new Redis(redis.url)
    const scratch = await createTestDatabase({ postgres: true })
    try {
      await probe.set('mercury:offset:alerts.cpu', '5000')
      const again = copy('--from', sqliteFile, '--to', scratch.url, '--redis', redis.url)
      expect(again.status).toBe(0)
      expect(again.stdout).toMatch(/Offsets: 0 of 2 topic counters raised/)
      expect(await probe.get('mercury:offset:alerts.cpu')).toBe('5000')

      await runSql(scratch, `DELETE FROM "Subscription"`)
      const replaced = copy('--from', sqliteFile, '--to', scratch.url, '--replace')
      expect(replaced.status).toBe(0)
      expect(replaced.stdout).toContain('(its previous rows deleted)')
      expect(await runSql(scratch, `SELECT count(*)::int AS n FROM "Subscription"`)).toEqual([{ n: 2 }])
    }
    finally {
      probe.disconnect()
      await scratch.drop()
    }
  })

  it('refuses a target that npm run migrate has not prepared, saying so', async () => {
    const admin = new pg.Client({ connectionString: process.env.MERCURY_TEST_SCALEOUT_PG_URL })
    await admin.connect()
    const name = `mercury_unmigrated_${process.pid}`
    await admin.query(`CREATE DATABASE ${name}`)
    try {
      const empty = new URL(process.env.MERCURY_TEST_SCALEOUT_PG_URL!)
      empty.pathname = `/${name}`
      const run = copy('--from', sqliteFile, '--to', empty.toString())
      expect(run.status).toBe(1)
      expect(run.stderr.trim()).toMatch(/^mercury: .* has no Mercury tables: run DATABASE_URL=<the same URL> npm run migrate first$/)
    }
    finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    }
  })

  it.each([
    ['a missing file', () => path.join(sqlite.dataDir, 'nothing-here.db'), /^mercury: \S+nothing-here\.db does not exist: --from names the SQLite file/],
    ['a file that is not SQLite', () => {
      const file = path.join(sqlite.dataDir, 'garbled.db')
      writeFileSync(file, 'this is not a database, just text that is long enough\n')
      return file
    }, /^mercury: \S+garbled\.db is not a SQLite database$/],
    ['a directory', () => sqlite.dataDir, /^mercury: \S+ is not a file: --from names the SQLite file/],
  ])('answers %s as --from with one line and exit status 1', (_, from, message) => {
    const run = copy('--from', from(), '--to', target.url)
    expect(run.status).toBe(1)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
    expect(run.stderr.trim()).toMatch(message)
    expect(run.stdout).toBe('')
    rmSync(path.join(sqlite.dataDir, 'garbled.db'), { force: true })
  })
})
