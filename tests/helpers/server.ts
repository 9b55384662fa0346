// Starts the real built server (.output) as a child process on a free loopback port, with a
// database of its own: a temporary SQLite file, or a fresh PostgreSQL database when the test
// runner exported MERCURY_TEST_PG_URL.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createClient } from '@libsql/client'
import pg from 'pg'

const root = path.resolve(import.meta.dirname, '../..')
export const ADMIN_PASSWORD = 'admin-password-for-tests'

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

export interface TestDatabase {
  url: string
  dataDir: string
  drop: () => Promise<void>
}

/**
 * A new empty database with every migration applied. `postgres: true` is for several server
 * processes writing at once (the scale-out set-up): it needs the PostgreSQL that npm test starts.
 * `sqlite: true` is SQLite even in the PostgreSQL run (a database to copy from).
 */
export async function createTestDatabase(options: { postgres?: boolean, sqlite?: boolean } = {}): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mercury-test-'))
  let url = `file:${path.join(dataDir, 'mercury.db')}`
  let drop = async () => {}
  const pgBase = options.sqlite ? undefined : process.env.MERCURY_TEST_PG_URL ?? (options.postgres ? process.env.MERCURY_TEST_SCALEOUT_PG_URL : undefined)
  if (options.postgres && !pgBase) throw new Error('This test needs PostgreSQL: run it through npm test, or set MERCURY_TEST_SCALEOUT_PG_URL')
  if (pgBase) {
    const name = `mercury_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
    const admin = new pg.Client({ connectionString: pgBase })
    await admin.connect()
    // A copy of the template npm test migrated once (scripts/test.mjs), else migrated below.
    const template = process.env.MERCURY_TEST_PG_TEMPLATE
    await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`)
    await admin.end()
    const u = new URL(pgBase)
    u.pathname = `/${name}`
    url = u.toString()
    drop = async () => {
      const c = new pg.Client({ connectionString: pgBase })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    }
  }
  if (!pgBase || !process.env.MERCURY_TEST_PG_TEMPLATE) {
    const migrate = spawnSync(path.join(root, 'node_modules/.bin/prisma'), ['migrate', 'deploy'], {
      cwd: root, env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8',
    })
    if (migrate.status !== 0) throw new Error(`prisma migrate deploy failed:\n${migrate.stdout}\n${migrate.stderr}`)
  }
  return {
    url,
    dataDir,
    drop: async () => {
      await drop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Runs one SQL statement on a test database, behind the server's back (SQLite or PostgreSQL). */
export async function runSql<T = Record<string, unknown>>(db: TestDatabase, statement: string, args: (string | number | Date)[] = []): Promise<T[]> {
  if (db.url.startsWith('file:')) {
    const client = createClient({ url: db.url })
    try {
      // The server writes too (counters, a token's last use, its sweeps): wait for its write lock
      // as the server's own connection does, rather than fail with SQLITE_BUSY.
      await client.execute('PRAGMA busy_timeout = 10000')
      // $1 → ?1: numbered, so a parameter used twice binds the same argument both times.
      return (await client.execute({ sql: statement.replace(/\$(\d+)/g, '?$1'), args })).rows as unknown as T[]
    }
    finally {
      client.close()
    }
  }
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  try {
    return (await client.query(statement, args)).rows as T[]
  }
  finally {
    await client.end()
  }
}

/** A date as a statement's argument for a DateTime column: ISO text with an offset on SQLite, as Prisma stores it there. */
export function storedDate(db: TestDatabase, date: Date): string | Date {
  return db.url.startsWith('file:') ? date.toISOString().replace('Z', '+00:00') : date
}

export interface RunningServer {
  url: string
  port: number
  db: TestDatabase
  process: ChildProcess
  output: () => string
  stop: () => Promise<void>
}

export interface StartOptions {
  env?: Record<string, string>
  db?: TestDatabase
  /** The node binary to run it with (the tests' own by default). */
  node?: string
  /** The build to run (this checkout's .output by default): another release of the app. */
  output?: string
  /** The port to listen on (a free one by default): the same origin again after a restart. */
  port?: number
  /** Run as this user (and group) id: a tests' runner that is root, as another user. */
  uid?: number
}

/** Starts .output/server/index.mjs (or `output`'s) and waits until /api/health answers 200. */
export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const db = options.db ?? await createTestDatabase()
  const port = options.port ?? await freePort()
  let log = ''
  const child = spawn(options.node ?? process.execPath, [path.join(options.output ?? path.join(root, '.output'), 'server/index.mjs')], {
    cwd: db.dataDir,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      NITRO_HOST: '127.0.0.1',
      NITRO_PORT: String(port),
      DATABASE_URL: db.url,
      MERCURY_DATA_DIR: db.dataDir,
      MERCURY_ADMIN_PASSWORD: ADMIN_PASSWORD,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
  })
  const append = (chunk: Buffer) => {
    log += chunk.toString()
  }
  child.stdout!.on('data', append)
  child.stderr!.on('data', append)
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited with ${child.exitCode ?? child.signalCode}:\n${log}`)
    try {
      const res = await fetch(`${url}/api/health`)
      if (res.ok) break
    }
    catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`server did not become healthy in 30 s:\n${log}`)
    }
    await new Promise(r => setTimeout(r, 100))
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise(r => child.once('exit', r))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    if (!options.db) await db.drop()
  }
  return { url, port, db, process: child, output: () => log, stop }
}
