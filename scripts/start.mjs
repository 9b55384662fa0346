// `npm start`: build when the sources changed since the last build, check the settings, apply
// migrations, serve.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp, hashSources, stampFile } from './source-hash.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Stops with a message of its own (no stack trace): for settings that cannot work. */
function refuse(message) {
  console.error(`mercury: ${message}`)
  process.exit(1)
}

/** Whether this process may listen on host:port: the server itself would fail later with a stack. */
async function checkListen(port, host) {
  const problem = await new Promise((resolve) => {
    const probe = net.createServer()
    probe.once('error', error => resolve(error))
    probe.listen({ port, host: host || undefined, exclusive: true }, () => probe.close(() => resolve(null)))
  })
  if (!problem) return
  const where = `${host || 'all interfaces'} port ${port}`
  if (problem.code === 'EADDRINUSE') refuse(`${where} is in use by another program: stop it, or set PORT to another port`)
  refuse(`cannot listen on ${where} (${problem.code ?? problem.message}): check HOST and PORT`)
}

/**
 * Two starts at once on one SQLite file would both migrate it, and the second one would fail with
 * the schema engine's WASM_ERROR. This one waits while another start migrates (PostgreSQL is
 * locked by Prisma itself); then its migration has nothing left to do.
 */
async function lockMigrations(file) {
  const lock = `${file}.migrating`
  // Another start, still running: not this process (a container restarted with the same pid after
  // it was killed while migrating) and not a pid since reused by something else than node.
  const alive = (pid) => {
    if (pid === process.pid) return false
    try {
      process.kill(pid, 0)
    }
    catch (error) {
      if (error.code !== 'EPERM') return false
    }
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node')
    }
    catch {
      return true
    }
  }
  for (let waited = 0; ; waited += 200) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' })
      const release = () => rmSync(lock, { force: true })
      process.once('exit', release)
      return release
    }
    catch (error) {
      if (error.code !== 'EEXIST') return () => {} // a directory it cannot write: the check said why already
    }
    const holder = Number(readFileSync(lock, 'utf8'))
    if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
      rmSync(lock, { force: true }) // left by a start that was killed
      continue
    }
    if (waited === 0) console.log(`mercury: another start (pid ${holder}) is migrating ${file}: waiting for it…`)
    if (waited >= 300_000) refuse(`another start (pid ${holder}) has been migrating ${file} for 5 minutes: stop it, or remove ${lock} if it is not running`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

/**
 * Whether the database lacks a migration of this version (or has no tables yet). Asked directly:
 * `prisma migrate deploy` takes 10 s on PostgreSQL even with nothing to do (the CLI waits on its
 * idle connection before it exits), and would make every start that long. Asked by a process of
 * its own (scripts/migrations-pending.mjs), as prisma migrate is: libSQL opened here, then closed
 * (late) in this process once the server had loaded its own copy, deleted the server's WAL file
 * under it, and every write of that run was lost at the next start.
 */
function migrationsPending(env) {
  const check = spawnSync(process.execPath, [path.join(root, 'scripts/migrations-pending.mjs')], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  return check.status !== 0 || check.stdout.trim() !== 'current'
}

/**
 * `prisma migrate deploy`. On PostgreSQL, Prisma's own lock lets one start migrate at a time, but
 * it holds that lock until its CLI exits, 10 s after it is done: another start waiting for it gets
 * P1002 ("Timed out trying to acquire a postgres advisory lock"). That one tries again.
 */
function migrate(env) {
  for (let attempt = 1; ; attempt++) {
    const result = spawnSync('prisma', ['migrate', 'deploy'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env, encoding: 'utf8' })
    if (result.status !== 0 && attempt < 4 && /P1002/.test(`${result.stdout}${result.stderr}`)) {
      console.log('mercury: another start is migrating the database: waiting for it…')
      continue
    }
    process.stdout.write(result.stdout ?? '')
    process.stderr.write(result.stderr ?? '')
    if (result.status === 0) return
    const why = result.error ? `: ${result.error.message}` : ''
    console.error(`mercury: "prisma migrate deploy" failed${why}`)
    process.exit(result.status ?? 1)
  }
}

const sourceHash = hashSources()
const built = existsSync(path.join(root, '.output/server/index.mjs'))
  && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === sourceHash
if (!built) {
  console.log('mercury: building the app (first start or sources changed)…')
  const result = buildApp()
  if (result.status !== 0) refuse(`the build failed${result.error ? `: ${result.error.message}` : ''}`)
}

const port = process.env.PORT || process.env.NITRO_PORT || '3000'
const host = process.env.HOST || process.env.NITRO_HOST || ''
if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) refuse(`PORT must be a port number (1-65535), got "${port}"`)

const dataDir = path.resolve(root, process.env.MERCURY_DATA_DIR || 'data')
try {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
}
catch (error) {
  refuse(`cannot use ${dataDir} as the data directory (MERCURY_DATA_DIR): ${error.message}`)
}
const env = { ...process.env, MERCURY_DATA_DIR: dataDir }
env.DATABASE_URL ||= `file:${path.join(dataDir, 'mercury.db')}`
if (!/^(file:|postgres(ql)?:\/\/)/.test(env.DATABASE_URL)) {
  refuse('DATABASE_URL must be a SQLite file (file:./data/mercury.db) or a PostgreSQL URL (postgresql://user:pass@host:5432/db)')
}
if (env.DATABASE_URL.startsWith('file:')) {
  // A relative path is taken from the project, like MERCURY_DATA_DIR, and made absolute: the
  // migrations and the server then open the same file wherever this is started from.
  const file = path.resolve(root, env.DATABASE_URL.slice('file:'.length))
  env.DATABASE_URL = `file:${file}`
  if (!existsSync(path.dirname(file))) refuse(`the directory of the SQLite file in DATABASE_URL does not exist: ${path.dirname(file)}`)
}
// Before migrating: a setting that cannot work, a database this user cannot write or one that
// another process serves must stop the start with the server's own message, the database untouched.
const check = spawnSync(process.execPath, [path.join(root, '.output/server/index.mjs'), '--check'], { cwd: root, stdio: 'inherit', env })
if (check.status !== 0) {
  if (check.error) refuse(`could not check the settings: ${check.error.message}`)
  process.exit(check.status ?? 1)
}
await checkListen(Number(port), host)
if (migrationsPending(env)) {
  const unlock = env.DATABASE_URL.startsWith('file:') ? await lockMigrations(env.DATABASE_URL.slice('file:'.length)) : () => {}
  migrate(env)
  unlock()
}
else console.log('mercury: the database has every migration of this version')

const shownHost = !host || host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host
console.log(`\nmercury: starting on http://${shownHost}:${port}`)
console.log('mercury: log in as "admin" with MERCURY_ADMIN_PASSWORD, or the password printed below on the first start.')
console.log('mercury: lost it? Start once with MERCURY_RESET_ADMIN_PASSWORD=<new password>.\n')
Object.assign(process.env, env)
await import(path.join(root, '.output/server/index.mjs'))
