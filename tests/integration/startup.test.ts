import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import webpush from 'web-push'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, createTestDatabase, freePort, runSql, startServer, storedDate, type TestDatabase } from '../helpers/server'
import { ApiClient } from '../helpers/client'
import { createActiveSource, publisher } from '../helpers/fixtures'
import { hashSources, stampFile } from '../../scripts/source-hash.mjs'
import { nodeTooOld } from '../../server/utils/node-version'

const scratch = mkdtempSync(path.join(tmpdir(), 'mercury-startup-'))
const vapidPair = webpush.generateVAPIDKeys()
const mismatched = webpush.generateVAPIDKeys()
const notAnOrigin = (entry: string) => `MERCURY_ALLOWED_ORIGINS must list origins, scheme://host[:port] (https://app.example.com), separated by commas, got "${entry}"`

// Start-up: settings that cannot work stop the server with a message (no stack trace), and the
// admin password reset of the README ends the admin's sessions.
let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase()
})

afterAll(async () => {
  await db?.drop()
  rmSync(scratch, { recursive: true, force: true })
})

/** How a server's start failed; one that starts after all is stopped again (and null fails the test). */
function startFailure(options: Parameters<typeof startServer>[0]): Promise<string | null> {
  return startServer(options).then(async (started) => {
    await started.stop()
    return null
  }, (error: Error) => error.message)
}

describe('start-up', () => {
  it.each([
    [{ MERCURY_ROLE: 'foo' }, 'MERCURY_ROLE must be all, web or worker, got "foo"'],
    [{ MERCURY_HEARTBEAT_SECONDS: '0' }, 'MERCURY_HEARTBEAT_SECONDS must be an integer from 1 to 2147483 in decimal digits only, got "0"'],
    [{ NUXT_VAPID_SUBJECT: 'admin@example.com' }, 'NUXT_VAPID_SUBJECT must be a mailto: or https: URL'],
    [{ NUXT_VAPID_PUBLIC_KEY: 'abc', NUXT_VAPID_PRIVATE_KEY: 'def' }, 'NUXT_VAPID_PUBLIC_KEY must be a P-256 public key'],
    [{ NUXT_VAPID_PRIVATE_KEY: 'def' }, 'NUXT_VAPID_PUBLIC_KEY and NUXT_VAPID_PRIVATE_KEY go together'],
    [{ NUXT_SESSION_PASSWORD: 'short' }, 'NUXT_SESSION_PASSWORD must be at least 32 characters'],
    [{ MERCURY_ADMIN_PASSWORD: 'a' }, 'MERCURY_ADMIN_PASSWORD must be at least 8 characters'],
    [{ MERCURY_RESET_ADMIN_PASSWORD: 'short' }, 'MERCURY_RESET_ADMIN_PASSWORD must be at least 8 characters'],
    // Past what a timer can wait, Node fires it at once: the login limit would forget every failure.
    [{ MERCURY_LOGIN_WINDOW_SECONDS: '3000000' }, 'MERCURY_LOGIN_WINDOW_SECONDS must be an integer from 1 to 2147483 in decimal digits only, got "3000000"'],
    [{ MERCURY_HEARTBEAT_SECONDS: '3000000' }, 'MERCURY_HEARTBEAT_SECONDS must be an integer from 1 to 2147483'],
    [{ MERCURY_PUSH_TIMEOUT_MS: '3000000000' }, 'MERCURY_PUSH_TIMEOUT_MS must be an integer from 1 to 2147483647'],
    [{ MERCURY_TRUST_PROXY: 'maybe' }, 'MERCURY_TRUST_PROXY must be 1 or 0 (true or false), got "maybe"'],
    [{ MERCURY_SESSION_DAYS: '0' }, 'MERCURY_SESSION_DAYS must be an integer from 1 to 3650 in decimal digits only, got "0"'],
    [{ MERCURY_SESSION_DAYS: '7.5' }, 'MERCURY_SESSION_DAYS must be an integer from 1 to 3650 in decimal digits only, got "7.5"'],
    // What Number() reads as another number than the one written, or reads at all.
    [{ MERCURY_MAX_BODY_BYTES: '0x10' }, 'MERCURY_MAX_BODY_BYTES must be a positive integer in decimal digits only, got "0x10"'],
    [{ MERCURY_MAX_BODY_BYTES: '1e3' }, 'MERCURY_MAX_BODY_BYTES must be a positive integer in decimal digits only, got "1e3"'],
    [{ MERCURY_SESSION_DAYS: ' 5 ' }, 'MERCURY_SESSION_DAYS must be an integer from 1 to 3650 in decimal digits only, got " 5 "'],
    [{ MERCURY_RETENTION_DAYS: '1.0' }, 'MERCURY_RETENTION_DAYS must be an integer from 0 to 36500 in decimal digits only, got "1.0"'],
    [{ MERCURY_HISTORY_MAX_AGE_SECONDS: '315360001' }, 'MERCURY_HISTORY_MAX_AGE_SECONDS must be an integer from 1 to 315360000 in decimal digits only'],
    [{ MERCURY_HISTORY_MAX_BYTES: '65536' }, 'MERCURY_HISTORY_MAX_BYTES must be an integer ≥ 1048576 in decimal digits only, got "65536"'],
    [{ MERCURY_METRICS_TOKEN: 'x' }, 'MERCURY_METRICS_TOKEN must be at least 16 characters'],
    [{ MERCURY_METRICS_TOKEN: ' '.repeat(16) }, 'MERCURY_METRICS_TOKEN must be at least 16 characters besides spaces'],
    [{ MERCURY_ALLOWED_ORIGINS: 'https://app.example.com/app' }, notAnOrigin('https://app.example.com/app')],
    [{ MERCURY_ALLOWED_ORIGINS: 'https://ok.example, app.example.com' }, notAnOrigin('app.example.com')],
    [{ MERCURY_ALLOWED_ORIGINS: 'ftp://app.example.com' }, notAnOrigin('ftp://app.example.com')],
    [{ MERCURY_ALLOWED_ORIGINS: 'https://user:pass@app.example.com' }, notAnOrigin('https://user:pass@app.example.com')],
    [{ MERCURY_ALLOWED_ORIGINS: 'https://app.example.com/?' }, notAnOrigin('https://app.example.com/?')],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL must be a redis:// or rediss:// URL'],
    [{ REDIS_URL: 'notaurl' }, 'REDIS_URL must be a redis:// or rediss:// URL'],
    [{ MERCURY_ROLE: 'worker' }, 'MERCURY_ROLE=worker needs REDIS_URL'],
    [{ NUXT_VAPID_PUBLIC_KEY: mismatched.publicKey, NUXT_VAPID_PRIVATE_KEY: vapidPair.privateKey }, 'NUXT_VAPID_PUBLIC_KEY is not the public key of NUXT_VAPID_PRIVATE_KEY'],
    // libSQL takes none of Prisma's URL parameters; a password is never printed.
    [{ DATABASE_URL: `file:${path.join(scratch, 'x.db')}?connection_limit=1` }, 'DATABASE_URL for SQLite takes no parameters: remove "?connection_limit=1"'],
    // Not printed at all: a password hides in many shapes (a + in the scheme, a / in the password, the query).
    ...['mysql://mercury:s3cret@db.example/mercury', 'postgresql+psycopg2://u:s3cret@db/x', 'mysql://u:s3/cret@db/x', 'jdbc:postgresql://db/x?user=u&password=s3cret', ' postgresql://u:s3cret@db/x'].map((url): [Record<string, string>, string] => [
      { DATABASE_URL: url }, 'DATABASE_URL must be a SQLite file (file:./data/mercury.db) or a PostgreSQL URL (postgresql://user:pass@host:5432/db); the value given is not shown, as it may hold a password',
    ]),
    [{ DATABASE_URL: 'file:' }, 'DATABASE_URL must name a SQLite file (file:./data/mercury.db), got "file:"'],
    [{ DATABASE_URL: 'file::memory:' }, 'DATABASE_URL must name a SQLite file (file:./data/mercury.db), got "file::memory:"'],
    [{ DATABASE_URL: `file:${scratch}` }, `DATABASE_URL names a directory, not a SQLite file: ${scratch}`],
    // The server started by itself on a database nobody migrated.
    [{ DATABASE_URL: `file:${path.join(scratch, 'never-migrated.db')}` }, 'Mercury: the database has no Mercury tables: run "npm run migrate"'],
  ])('refuses to start with %o, saying why', async (env, message) => {
    const failed = await startFailure({ db, env })
    expect(failed).toMatch(/server exited with 1/)
    expect(failed).toContain(message.startsWith('Mercury: ') ? message : `Mercury: ${message}`)
    expect(failed).not.toMatch(/\n\s+at /) // no stack trace
    expect(failed).not.toContain('s3cret')
    expect(failed).not.toMatch(/sweep failed/) // the workers' sweep waits for the database to be checked
  })

  it('resets the admin password from MERCURY_RESET_ADMIN_PASSWORD and ends the admin\'s sessions and personal tokens', async () => {
    const first = await startServer({ db })
    const admin = new ApiClient(first.url)
    await admin.login('admin', ADMIN_PASSWORD)
    const token = new ApiClient(first.url)
    token.token = (await new ApiClient(first.url).login('admin', ADMIN_PASSWORD)).body.token
    const pat = new ApiClient(first.url)
    pat.token = (await admin.post('/api/me/tokens', { name: 'script' })).body.token
    await first.stop()

    const second = await startServer({ db, env: { MERCURY_RESET_ADMIN_PASSWORD: 'a-new-admin-password' } })
    try {
      expect(second.output()).toMatch(/admin password was reset from MERCURY_RESET_ADMIN_PASSWORD \(3 tokens ended, logins and personal tokens\)/)
      for (const client of [admin, token, pat]) (client as { baseUrl: string }).baseUrl = second.url
      expect((await admin.get('/api/me')).status).toBe(401)
      expect((await token.get('/api/me')).status).toBe(401)
      // A personal access token made with the lost or leaked password ends too.
      expect((await pat.get('/api/me')).status).toBe(401)
      const login = (password: string) => new ApiClient(second.url).post('/api/auth/login', { username: 'admin', password })
      expect((await login(ADMIN_PASSWORD)).status).toBe(401)
      expect((await login('a-new-admin-password')).status).toBe(200)
    }
    finally {
      await second.stop()
    }
  })

  it.skipIf(Boolean(process.env.MERCURY_TEST_PG_URL))('refuses a second process on the same SQLite database without Redis, and lets the next one in once the first stopped', async () => {
    const first = await startServer({ db })
    try {
      const failed = await startFailure({ db })
      expect(failed).toMatch(/server exited with 1/)
      expect(failed).toContain(`Mercury: another Mercury process (pid ${first.process.pid}) already serves`)
    }
    finally {
      const exited = new Promise(resolve => first.process.once('exit', resolve))
      first.process.kill('SIGKILL') // not a clean exit: the next process finds the file left behind
      await exited
    }
    const next = await startServer({ db })
    const exited = new Promise(resolve => next.process.once('exit', resolve))
    next.process.kill('SIGTERM')
    await exited
  })

  it.skipIf(Boolean(process.env.MERCURY_TEST_PG_URL))('lets processes with Redis share a SQLite database, but never with one without Redis, in either order', async () => {
    // Unreachable: the claim is made before Redis is connected to (the channel layer starts "down").
    const redis = { REDIS_URL: 'redis://127.0.0.1:1' }
    const plain = await startServer({ db })
    try {
      const failed = await startFailure({ db, env: redis })
      expect(failed).toMatch(/server exited with 1/)
      expect(failed).toContain(`Mercury: another Mercury process (pid ${plain.process.pid}) serves ${path.join(db.dataDir, 'mercury.db')} without Redis: stop it first`)
    }
    finally {
      await plain.stop()
    }
    const withRedis = await startServer({ db, env: redis })
    try {
      const joined = await startServer({ db, env: redis })
      await joined.stop()
      const failed = await startFailure({ db })
      expect(failed).toMatch(/server exited with 1/)
      expect(failed).toContain(`Mercury: another Mercury process (pid ${withRedis.process.pid}) serves ${path.join(db.dataDir, 'mercury.db')} with Redis: start this one with the same REDIS_URL`)
    }
    finally {
      await withRedis.stop()
    }
  })

  it('refuses a session secret file it cannot use (empty, or not a file) with one line and exit 1, rather than answer 500 to every login or stop silently', async () => {
    for (const [make, says] of [
      [(file: string) => writeFileSync(file, ''), 'holds nothing, and the secret must be at least 32'],
      [(file: string) => mkdirSync(file), 'cannot read'],
    ] as const) {
      const own = await createTestDatabase({ sqlite: true })
      try {
        make(path.join(own.dataDir, 'session-secret'))
        const failed = await startFailure({ db: own })
        expect(failed).toMatch(/server exited with 1/)
        expect(failed).toContain(`Mercury: ${says === 'cannot read' ? `cannot read ${path.join(own.dataDir, 'session-secret')}` : `${path.join(own.dataDir, 'session-secret')} ${says}`}`)
      }
      finally {
        await own.drop()
      }
    }
  })

  /** Runs `npm start` (scripts/start.mjs) until it exits, or stops it once it serves: a refusal's exit code and output. */
  async function startScript(env: Record<string, string>, options: { uid?: number, lockHolder?: boolean } = {}): Promise<{ code: number | string | null, output: string }> {
    const port = String(await freePort())
    // lockHolder: the start's own pid is written in the data directory's migration lock first, as a
    // start killed while migrating leaves it for the next one with the same pid.
    const args = options.lockHolder
      ? ['-e', `require('fs').writeFileSync(${JSON.stringify(path.join(env.MERCURY_DATA_DIR!, 'mercury.db.migrating'))}, String(process.pid)); process.argv.splice(1, 0, 'scripts/start.mjs'); import('./scripts/start.mjs')`]
      : ['scripts/start.mjs']
    const child = spawn(process.execPath, args, {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { ...process.env, PORT: port, HOST: '127.0.0.1', DATABASE_URL: '', REDIS_URL: '', MERCURY_ADMIN_PASSWORD: ADMIN_PASSWORD, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
    })
    let output = ''
    const append = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Listening on')) child.kill('SIGKILL')
    }
    child.stdout!.on('data', append)
    child.stderr!.on('data', append)
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    const code = await new Promise<number | string | null>(resolve => child.once('exit', (status, signal) => resolve(status ?? signal)))
    clearTimeout(timer)
    return { code, output }
  }

  it('npm start refuses a setting that cannot work before it migrates: the database is not touched', async () => {
    const dataDir = path.join(scratch, 'bad-setting')
    const { code, output } = await startScript({ MERCURY_DATA_DIR: dataDir, MERCURY_SESSION_DAYS: '-1' })
    expect(code).toBe(1)
    expect(output.trim()).toBe('Mercury: MERCURY_SESSION_DAYS must be an integer from 1 to 3650 in decimal digits only, got "-1"')
    expect(existsSync(path.join(dataDir, 'mercury.db'))).toBe(false)
  })

  it.skipIf(Boolean(process.env.MERCURY_TEST_PG_URL))('npm start next to a process that serves the database refuses before it migrates it', async () => {
    const own = await createTestDatabase({ sqlite: true })
    const first = await startServer({ db: own })
    try {
      const { code, output } = await startScript({ MERCURY_DATA_DIR: own.dataDir })
      expect(code).toBe(1)
      expect(output).toContain(`Mercury: another Mercury process (pid ${first.process.pid}) already serves ${path.join(own.dataDir, 'mercury.db')}`)
      expect(output).not.toMatch(/migrat/i)
    }
    finally {
      await first.stop()
      await own.drop()
    }
  })

  it.skipIf(Boolean(process.env.MERCURY_TEST_PG_URL))('two npm starts at once on a new SQLite database migrate it one after the other', async () => {
    const dataDir = path.join(scratch, 'two-starts')
    // The second one used to fail in the schema engine (WASM_ERROR), migrating what the first one was migrating.
    const runs = await Promise.all([startScript({ MERCURY_DATA_DIR: dataDir }), startScript({ MERCURY_DATA_DIR: dataDir })])
    for (const { output } of runs) {
      expect(output).not.toMatch(/WASM_ERROR|migrate deploy" failed|Error/)
      // Each one serves, or says that the other one does (the first is stopped once it listens).
      expect(output).toMatch(/Listening on|already serves/)
    }
    expect(runs.some(({ output }) => output.includes('is migrating'))).toBe(true)
    expect(existsSync(path.join(dataDir, 'mercury.db.migrating'))).toBe(false)
    // A lock left by a start killed while migrating is taken over, even when its pid is now this
    // start's own (a container restarted) or another program's.
    const other = spawn('sleep', ['60'])
    try {
      for (const holder of ['self', String(other.pid)]) {
        rmSync(path.join(dataDir, 'mercury.db'), { force: true })
        writeFileSync(path.join(dataDir, 'mercury.db.migrating'), holder)
        const run = await startScript({ MERCURY_DATA_DIR: dataDir }, { lockHolder: holder === 'self' })
        expect(run.output, holder).not.toContain('is migrating')
        expect(run.output, holder).toContain('Listening on')
      }
    }
    finally {
      other.kill()
    }
    // A start on a database that has every migration does not run prisma migrate.
    const again = await startScript({ MERCURY_DATA_DIR: dataDir })
    expect(again.output).toContain('mercury: the database has every migration of this version')
    expect(again.output).not.toContain('Mercury: migrating')
    expect(again.output).toContain('Listening on')
  })

  it.skipIf(Boolean(process.env.MERCURY_TEST_PG_URL))('npm start on a database it migrated before keeps what its server writes', async () => {
    // Its check of the migrations opened the database with libSQL in the server's own process: closed
    // late, that copy deleted the server's WAL file under it, and the run's writes were lost.
    const dataDir = path.join(scratch, 'restart-keeps')
    expect((await startScript({ MERCURY_DATA_DIR: dataDir })).output).toContain('Listening on')
    const port = await freePort()
    const child = spawn(process.execPath, ['scripts/start.mjs'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: '', REDIS_URL: '', MERCURY_ADMIN_PASSWORD: ADMIN_PASSWORD, MERCURY_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => output += chunk.toString())
    child.stderr!.on('data', (chunk: Buffer) => output += chunk.toString())
    const exited = new Promise(resolve => child.once('exit', resolve))
    try {
      await expect.poll(() => output, { timeout: 30_000 }).toContain('Listening on')
      expect(output).toContain('the database has every migration of this version')
      await new Promise(resolve => setTimeout(resolve, 1500)) // the late close came ~0.5 s after
      const admin = new ApiClient(`http://127.0.0.1:${port}`)
      await admin.login('admin', ADMIN_PASSWORD)
      expect((await admin.post('/api/admin/users', { username: 'kept', password: 'kept-password-1' })).status).toBe(201)
      // Another process sees the write: it is in the database's WAL, not in a deleted file.
      const db = { url: `file:${path.join(dataDir, 'mercury.db')}`, dataDir, drop: async () => {} }
      expect(await runSql(db, 'SELECT "username" FROM "User" WHERE "username" = $1', ['kept'])).toHaveLength(1)
    }
    finally {
      child.kill('SIGTERM')
      await exited
    }
  })

  it.skipIf(!process.env.MERCURY_TEST_PG_URL)('two npm starts at once on a new PostgreSQL database both serve; a later start does not migrate', async () => {
    // Prisma holds its migration lock until its CLI exits, 10 s after it is done: the second start
    // failed with P1002 (timed out waiting for the lock). A start with nothing to migrate took as long.
    const name = `mercury_starts_${process.pid}`
    const admin = new pg.Client({ connectionString: process.env.MERCURY_TEST_PG_URL })
    await admin.connect()
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.query(`CREATE DATABASE ${name}`)
    const url = Object.assign(new URL(process.env.MERCURY_TEST_PG_URL!), { pathname: `/${name}` }).toString()
    try {
      const start = (dir: string) => startScript({ DATABASE_URL: url, MERCURY_DATA_DIR: path.join(scratch, dir) })
      const runs = await Promise.all([start('pg-a'), start('pg-b')])
      for (const { output } of runs) {
        expect(output).not.toMatch(/P1002|failed/)
        expect(output).toContain('Listening on')
      }
      const again = await start('pg-c')
      expect(again.output).toContain('mercury: the database has every migration of this version')
      expect(again.output).not.toContain('Mercury: migrating')
      expect(again.output).toContain('Listening on')
    }
    finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    }
  }, 150_000)

  // Root writes whatever the permissions say: what another user meets is seen as that user.
  const asNobody = process.getuid?.() === 0 ? 65534 : undefined
  it.skipIf(asNobody === undefined)('npm start says in one line that it cannot write to the data directory, before migrating', async () => {
    const parent = path.join(scratch, 'read-only')
    const dataDir = path.join(parent, 'data')
    mkdirSync(dataDir, { recursive: true })
    chmodSync(scratch, 0o755)
    chmodSync(parent, 0o755)
    chmodSync(dataDir, 0o555)
    const { code, output } = await startScript({ MERCURY_DATA_DIR: dataDir }, { uid: asNobody })
    expect(code).toBe(1)
    expect(output.trim()).toBe(`Mercury: cannot write to ${dataDir} (MERCURY_DATA_DIR=${dataDir}): permission denied — run Mercury as the user who owns it, or fix its permissions`)
  })

  it.skipIf(asNobody === undefined)('refuses a database file it cannot write, naming it, when started by itself', async () => {
    const own = await createTestDatabase({ sqlite: true })
    try {
      const file = path.join(own.dataDir, 'mercury.db')
      chmodSync(own.dataDir, 0o777)
      chmodSync(file, 0o444)
      const failed = await startFailure({ db: own, uid: asNobody })
      expect(failed).toMatch(/server exited with 1/)
      expect(failed).toContain(`Mercury: cannot write to ${file} (MERCURY_DATA_DIR=${own.dataDir}): permission denied`)
      expect(failed).not.toMatch(/\n\s+at /)
    }
    finally {
      await own.drop()
    }
  })

  it('says in one line that the port is taken when the server is started by itself', async () => {
    const busy = createServer()
    await new Promise<void>(resolve => busy.listen(0, '127.0.0.1', resolve))
    const port = String((busy.address() as { port: number }).port)
    try {
      const failed = await startFailure({ db, env: { PORT: port, NITRO_PORT: port } })
      expect(failed).toMatch(/server exited with 1/)
      expect(failed).toContain(`Mercury: 127.0.0.1 port ${port} is in use by another program`)
      expect(failed).not.toMatch(/\n\s+at /)
    }
    finally {
      busy.close()
    }
  })

  // The machine's own Node, where it is older than Mercury's (Debian's Node 20 here and in CI).
  const olderNode = ['/usr/bin/node', '/usr/local/bin/node'].find((node) => {
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout?.trim()
    return version && nodeTooOld(version)
  })
  it.skipIf(!olderNode)('refuses to start on a Node.js older than the one it needs, saying which to use', async () => {
    const failed = await startFailure({ db, node: olderNode })
    expect(failed).toMatch(/server exited with 1/)
    expect(failed).toMatch(/Mercury: needs Node\.js 22\.12 or later, and this is Node\.js v\d+\.\d+\.\d+: start it with the Node that npm install put in node_modules\/\.bin/)
  })

  it('refuses to start on a database that lacks a migration of this version (upgraded without migrating), naming it', async () => {
    const behind = await createTestDatabase()
    try {
      const [last] = await runSql<{ migration_name: string }>(behind, 'SELECT "migration_name" FROM "_prisma_migrations" ORDER BY "migration_name" DESC LIMIT 1')
      await runSql(behind, 'DELETE FROM "_prisma_migrations" WHERE "migration_name" = $1', [last!.migration_name])
      const failed = await startFailure({ db: behind })
      expect(failed).toMatch(/server exited with 1/)
      expect(failed).toContain(`Mercury: the database lacks a migration of this version (${last!.migration_name}): run "npm run migrate"`)
    }
    finally {
      await behind.drop()
    }
  })

  it('says at start-up which usernames the case-insensitive migration changed, and they log in with their new names', async () => {
    const own = await createTestDatabase()
    try {
      const first = await startServer({ db: own })
      const admin = new ApiClient(first.url)
      await admin.login('admin', ADMIN_PASSWORD)
      const long = 'o'.repeat(64)
      const created = await admin.post('/api/admin/users', { username: long, password: 'long-password-1' })
      await first.stop()
      // What the migration does to a name that differed from an older one only by case.
      const renamed = `${long}-${created.body.id}`
      await runSql(own, 'UPDATE "User" SET "username" = $1 WHERE "id" = $2', [renamed, created.body.id])
      const second = await startServer({ db: own })
      try {
        await expect.poll(() => second.output()).toContain(`Mercury: 1 username was changed when usernames became unique ignoring case`)
        expect(second.output()).toContain(renamed)
        expect((await new ApiClient(second.url).login(renamed, 'long-password-1')).status).toBe(200)
      }
      finally {
        await second.stop()
      }
    }
    finally {
      await own.drop()
    }
  })

  it('deletes notifications older than MERCURY_RETENTION_DAYS, with their inbox rows', async () => {
    const own = await createTestDatabase()
    try {
      const first = await startServer({ db: own })
      const admin = new ApiClient(first.url)
      await admin.login('admin', ADMIN_PASSWORD)
      const source = await createActiveSource(admin, 'retained', 'old.*')
      await admin.post('/api/subscriptions', { topic: 'old.news' })
      const publish = (title: string) => publisher(first.url, source.token).post('/api/topics/old.news/messages', { notification: { title } })
      await publish('recent')
      const ancient = (await publish('ancient')).body.id as string
      await first.stop()
      const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * 60_000)
      const at = own.url.startsWith('file:') ? twoDaysAgo.toISOString().replace('Z', '+00:00') : twoDaysAgo
      await runSql(own, 'UPDATE "Notification" SET "createdAt" = $1 WHERE "id" = $2', [at, ancient])
      const second = await startServer({ db: own, env: { MERCURY_RETENTION_DAYS: '1' } })
      try {
        const again = new ApiClient(second.url)
        await again.login('admin', ADMIN_PASSWORD)
        await expect.poll(async () => (await again.get('/api/inbox')).body.items.map((i: { title: string }) => i.title), { timeout: 10_000 }).toEqual(['recent'])
        expect(await runSql(own, 'SELECT "id" FROM "InboxItem" WHERE "notificationId" = $1', [ancient])).toEqual([])
      }
      finally {
        await second.stop()
      }
    }
    finally {
      await own.drop()
    }
  })

  it('keeps a login for MERCURY_SESSION_DAYS without use: its cookie expires then, and its token is refused past it', async () => {
    const server = await startServer({ env: { MERCURY_SESSION_DAYS: '2' } })
    try {
      const day = 24 * 60 * 60_000
      const before = Date.now()
      const login = async () => {
        const client = new ApiClient(server.url)
        const res = await client.login('admin', ADMIN_PASSWORD)
        const [row] = await runSql<{ id: string }>(server.db, 'SELECT "id" FROM "AccessToken" WHERE "name" = $1 ORDER BY "createdAt" DESC LIMIT 1', ['login'])
        return { client, res, tokenId: row!.id }
      }
      const used = await login()
      const expires = /;\s*Expires=([^;]+)/i.exec(used.res.headers.getSetCookie().find(c => c.startsWith('mercury-session='))!)![1]!
      expect(Date.parse(expires)).toBeGreaterThanOrEqual(before + 2 * day - 1000)
      expect(Date.parse(expires)).toBeLessThanOrEqual(Date.now() + 2 * day)
      const unused = await login()
      const lastUsed = (tokenId: string, ago: number) => runSql(server.db, 'UPDATE "AccessToken" SET "lastUsedAt" = $1 WHERE "id" = $2', [storedDate(server.db, new Date(Date.now() - ago)), tokenId])
      await lastUsed(used.tokenId, 1.5 * day)
      await lastUsed(unused.tokenId, 2.5 * day)
      expect((await used.client.get('/api/me')).status).toBe(200)
      expect((await unused.client.get('/api/me')).status).toBe(401)
    }
    finally {
      await server.stop()
    }
  })

  it('stops the server when npm start is told to stop (SIGTERM to npm, as a supervisor sends it)', async () => {
    const port = 20000 + Math.floor(Math.random() * 5000)
    const env: NodeJS.ProcessEnv = {
      ...process.env, PORT: String(port), HOST: '127.0.0.1', MERCURY_DATA_DIR: path.join(scratch, 'npm-start'),
      DATABASE_URL: '', MERCURY_ADMIN_PASSWORD: ADMIN_PASSWORD,
    }
    delete env.REDIS_URL
    // In a process group of its own, so that whatever is left of it can be ended at the end.
    const npm = spawn('npm', ['start'], { cwd: path.resolve(import.meta.dirname, '../..'), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let output = ''
    npm.stdout!.on('data', (chunk: Buffer) => output += chunk.toString())
    npm.stderr!.on('data', (chunk: Buffer) => output += chunk.toString())
    const health = () => fetch(`http://127.0.0.1:${port}/api/health`).then(res => res.status, () => 0)
    // npm start would build again, under the other tests' servers: npm test's build must be current.
    expect(readFileSync(stampFile, 'utf8')).toBe(hashSources())
    try {
      await expect.poll(health, { timeout: 60_000, interval: 250 }).toBe(200)
      expect(output).not.toMatch(/building the app/) // the build npm test made is current
      // The database holds the VAPID private key, password and token hashes: its owner's only.
      expect(statSync(path.join(scratch, 'npm-start')).mode & 0o777).toBe(0o700)
      const exited = new Promise(resolve => npm.once('exit', resolve))
      npm.kill('SIGTERM')
      await exited
      await expect.poll(health, { timeout: 10_000, interval: 250 }).toBe(0)
    }
    finally {
      try {
        process.kill(-npm.pid!, 'SIGKILL')
      }
      catch { /* nothing left */ }
    }
  })
})
