// `npm test`: installs what the suites need when it is missing, builds, and runs every suite:
// lint, typecheck, unit, integration on SQLite, integration on PostgreSQL (with Redis), e2e.
// The last line is the plain total over all of them: "N passed, N failed".
import { execFileSync, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from './source-hash.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = name => path.join(root, 'node_modules/.bin', name)
const only = process.env.MERCURY_TEST_ONLY?.split(',') // e.g. MERCURY_TEST_ONLY=unit,integration-sqlite
const results = []
const failures = []
const cleanups = []

function log(message) {
  console.log(`\n▶ ${message}`)
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

function postgresBinDir() {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return null
  const versions = readdirSync(base).filter(v => existsSync(path.join(base, v, 'bin/postgres'))).sort((a, b) => Number(b) - Number(a))
  return versions.length ? path.join(base, versions[0], 'bin') : null
}

export function chromiumPath() {
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(p => existsSync(p)) ?? null
}

function ensureSystemPackages() {
  const missing = []
  if (!chromiumPath()) missing.push('chromium')
  if (!has('redis-server')) missing.push('redis-server')
  if (!postgresBinDir()) missing.push('postgresql')
  if (missing.length === 0) return
  log(`installing ${missing.join(', ')} with apt-get`)
  const sudo = process.getuid?.() === 0 ? [] : ['sudo']
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const run = (args) => {
    const r = spawnSync(sudo.length ? 'sudo' : args[0], sudo.length ? args : args.slice(1), { stdio: 'inherit', env })
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed`)
  }
  run(['apt-get', 'update', '-q'])
  run(['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...missing])
}

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

async function startRedis() {
  const port = await freePort()
  const dir = mkdtempSync(path.join(tmpdir(), 'mercury-redis-'))
  const pidfile = path.join(dir, 'redis.pid')
  execFileSync('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--daemonize', 'yes', '--pidfile', pidfile, '--dir', dir, '--logfile', path.join(dir, 'redis.log')])
  for (let i = 0; i < 50 && !existsSync(pidfile); i++) await new Promise(r => setTimeout(r, 100))
  cleanups.push(async () => {
    try {
      const pid = Number(readFileSync(pidfile, 'utf8'))
      process.kill(pid, 'SIGTERM')
      // Wait for it to exit: it may still be writing into its folder.
      for (let i = 0; i < 50; i++) {
        process.kill(pid, 0)
        await new Promise(r => setTimeout(r, 100))
      }
    }
    catch { /* gone */ }
    removeQuietly(dir)
  })
  return `redis://127.0.0.1:${port}`
}

async function startPostgres() {
  const binDir = postgresBinDir()
  const port = await freePort()
  const dir = mkdtempSync(path.join(tmpdir(), 'mercury-pg-'))
  const asRoot = process.getuid?.() === 0
  const run = (cmd, args) => {
    const full = path.join(binDir, cmd)
    const r = asRoot
      ? spawnSync('runuser', ['-u', 'postgres', '--', full, ...args], { encoding: 'utf8' })
      : spawnSync(full, args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stdout}${r.stderr}`)
  }
  if (asRoot) {
    const { uid, gid } = userIds('postgres')
    chownSync(dir, uid, gid)
  }
  run('initdb', ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'])
  run('pg_ctl', ['-D', path.join(dir, 'data'), '-w', '-l', path.join(dir, 'pg.log'), '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`, 'start'])
  cleanups.push(() => {
    try {
      run('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'immediate', 'stop'])
    }
    catch { /* already gone */ }
    removeQuietly(dir)
  })
  return `postgresql://postgres@127.0.0.1:${port}/postgres`
}

/**
 * A database with every migration applied, that each test's PostgreSQL database is copied from
 * (tests/helpers/server.ts): prisma migrate takes 10-15 s on PostgreSQL even for an empty
 * database (its CLI waits on its connection before it exits), a copy a few milliseconds.
 */
function migratedTemplate(pgUrl) {
  const name = 'mercury_template'
  const psql = spawnSync(path.join(postgresBinDir(), 'psql'), [pgUrl, '-qc', `CREATE DATABASE ${name}`], { encoding: 'utf8' })
  if (psql.status !== 0) throw new Error(`could not create ${name}: ${psql.stderr}`)
  const url = Object.assign(new URL(pgUrl), { pathname: `/${name}` }).toString()
  const migrate = spawnSync(bin('prisma'), ['migrate', 'deploy'], { cwd: root, env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8' })
  if (migrate.status !== 0) throw new Error(`prisma migrate deploy of ${name} failed:\n${migrate.stdout}${migrate.stderr}`)
  return name
}

/** Cleanup must never fail the run. */
function removeQuietly(dir) {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  }
  catch (error) {
    console.warn(`could not remove ${dir}: ${error.message}`)
  }
}

function userIds(name) {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find(l => l.startsWith(`${name}:`))
  if (!line) throw new Error(`no user ${name}`)
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

function step(name, command, args, env = {}) {
  if (only && !only.includes(name)) return
  log(name)
  const started = Date.now()
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  results.push({ name, passed: r.status === 0 ? 1 : 0, failed: r.status === 0 ? 0 : 1, seconds: (Date.now() - started) / 1000 })
}

function vitest(name, project, env = {}) {
  if (only && !only.includes(name)) return
  log(name)
  const started = Date.now()
  const reportDir = mkdtempSync(path.join(tmpdir(), 'mercury-vitest-'))
  const report = path.join(reportDir, 'report.json')
  const r = spawnSync(bin('vitest'), ['run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
    { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  let passed = 0
  let failed = 0
  if (existsSync(report)) {
    const json = JSON.parse(readFileSync(report, 'utf8'))
    passed = json.numPassedTests
    // Failed tests, plus files that failed without a failed test of their own (an import error,
    // a failing hook): numFailedTestSuites would count every describe block of a failed test too.
    const brokenFiles = (json.testResults ?? []).filter(file => file.status === 'failed'
      && !file.assertionResults?.some(test => test.status === 'failed')).length
    failed = json.numFailedTests + brokenFiles
    // CI keeps only the end of the output: the failures are named again in the summary.
    for (const file of json.testResults ?? []) {
      const where = path.relative(root, file.name)
      const tests = (file.assertionResults ?? []).filter(test => test.status === 'failed')
      for (const test of tests) failures.push({ suite: name, where, title: test.fullName, message: test.failureMessages?.[0] })
      if (file.status === 'failed' && tests.length === 0) failures.push({ suite: name, where, title: '(the file itself)', message: file.message })
    }
  }
  rmSync(reportDir, { recursive: true, force: true })
  if (r.status !== 0 && failed === 0) failed = 1 // the runner itself failed (crash, no report)
  results.push({ name, passed, failed, seconds: (Date.now() - started) / 1000 })
}

async function main() {
  ensureSystemPackages()
  if (!only || only.some(s => s !== 'lint' && s !== 'typecheck' && s !== 'unit')) {
    log('build')
    // Stamped as `npm start` stamps its build: a test that runs it finds the build current.
    if (buildApp(['ignore', 'ignore', 'inherit']).status !== 0) {
      results.push({ name: 'build', passed: 0, failed: 1, seconds: 0 })
      return
    }
  }
  step('lint', bin('eslint'), ['.'])
  step('typecheck', bin('nuxt'), ['typecheck'])
  vitest('unit', 'unit')
  const redisUrl = await startRedis()
  const integration = !only || only.some(s => s.startsWith('integration'))
  // The scale-out tests (several processes writing at once) use PostgreSQL in both runs.
  const pgUrl = integration ? await startPostgres() : ''
  const pgTemplate = integration ? migratedTemplate(pgUrl) : ''
  vitest('integration-sqlite', 'integration', { MERCURY_TEST_REDIS_URL: redisUrl, MERCURY_TEST_SCALEOUT_PG_URL: pgUrl, MERCURY_TEST_PG_TEMPLATE: pgTemplate })
  vitest('integration-postgres', 'integration', { MERCURY_TEST_PG_URL: pgUrl, MERCURY_TEST_REDIS_URL: redisUrl, MERCURY_TEST_PG_TEMPLATE: pgTemplate })
  vitest('e2e', 'e2e', { MERCURY_CHROMIUM: chromiumPath() ?? '' })
}

let exitCode = 0
try {
  await main()
}
catch (error) {
  console.error(error)
  results.push({ name: 'setup', passed: 0, failed: 1, seconds: 0 })
}
finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
console.log('\nsuite                  passed  failed  seconds')
for (const r of results) {
  console.log(`${r.name.padEnd(22)} ${String(r.passed).padStart(6)}  ${String(r.failed).padStart(6)}  ${r.seconds.toFixed(0).padStart(7)}`)
}
for (const f of failures) {
  const message = String(f.message ?? '').split('\n').slice(0, 6).join('\n    ')
  console.log(`\nFAILED ${f.suite}: ${f.where} > ${f.title}\n    ${message}`)
}
const passed = results.reduce((n, r) => n + r.passed, 0)
const failed = results.reduce((n, r) => n + r.failed, 0)
if (failed > 0 || passed === 0) exitCode = 1
console.log(`\n${passed} passed, ${failed} failed`)
process.exit(exitCode)
