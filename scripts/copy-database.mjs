// `npm run copy-database -- --from <SQLite file> --to <PostgreSQL URL> [--redis <URL>] [--replace]`:
// copies a Mercury SQLite database into a PostgreSQL database prepared by `npm run migrate`, for an
// operator moving from one process (`npm start`) to the scaled-out set-up (docs/OPERATIONS.md).
//
// It uses the drivers themselves (@libsql/client, pg) rather than the generated Prisma clients:
// those are TypeScript modules this plain script cannot load without the build, and Prisma reads
// a table whole or one page per query compiled for it. The drivers let the copy read one
// consistent snapshot of the SQLite file (one read transaction), page through each table by
// rowid, and write each page with one INSERT, all in one PostgreSQL transaction. The tables, their
// columns and the order of the copy (parents before children) are read from the migrated
// PostgreSQL database, so a model added to prisma/schema.prisma is copied without changing this.
import { existsSync, openSync, readSync, closeSync, readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createClient } from '@libsql/client'
import Redis from 'ioredis'
import pg from 'pg'

const root = fileURLToPath(new URL('..', import.meta.url))
/** Rows read and written at a time: a page of notifications (64 KB of data each at most) stays in tens of MB. */
const PAGE_ROWS = 1000
/** The Redis layer's key prefix (server/services/realtime/redis-layer.ts). */
const REDIS_PREFIX = 'mercury:'

class Refusal extends Error {}

/** Stops with one line and exit status 1: every expected failure ends here. */
function refuse(message) {
  throw new Refusal(message)
}

function usage() {
  return 'usage: npm run copy-database -- --from <SQLite file or file: URL> --to <postgresql:// URL> [--redis <redis:// URL>] [--replace]'
}

function parseCommandLine(argv) {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        redis: { type: 'string' },
        replace: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    })
  }
  catch (error) {
    refuse(`${error.message}\n${usage()}`)
  }
  const { values } = parsed
  if (values.help) {
    console.log(usage())
    process.exit(0)
  }
  if (!values.from || !values.to) refuse(`--from and --to are both needed\n${usage()}`)
  if (!/^postgres(ql)?:\/\//.test(values.to)) refuse(`--to must be a postgresql:// URL, got "${values.to}"`)
  if (values.redis !== undefined && !/^rediss?:\/\//.test(values.redis)) refuse(`--redis must be a redis:// or rediss:// URL, got "${values.redis}"`)
  return values
}

/** The SQLite file named by a path or a `file:` URL, checked to be one before anything opens it. */
function sqliteFile(from) {
  const file = path.resolve(from.startsWith('file:') ? from.slice('file:'.length).split('?')[0] : from)
  // libsql would create a missing file, and call a garbled one "file is not a database" only later.
  if (!existsSync(file)) refuse(`${file} does not exist: --from names the SQLite file (data/mercury.db by default)`)
  if (!statSync(file).isFile()) refuse(`${file} is not a file: --from names the SQLite file (data/mercury.db by default)`)
  const header = Buffer.alloc(16)
  const fd = openSync(file, 'r')
  const read = readSync(fd, header, 0, 16, 0)
  closeSync(fd)
  if (read < 16 || header.toString('latin1') !== 'SQLite format 3\0') refuse(`${file} is not a SQLite database`)
  return file
}

function bootId() {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  }
  catch {
    return ''
  }
}

/**
 * Refuses while a server holds the file: what it writes during the copy would be lost. The same
 * test as server/utils/sqlite-owner.ts (a server without Redis records itself in `<file>.owner`).
 */
function checkNotServed(file) {
  let owner
  try {
    owner = JSON.parse(readFileSync(`${file}.owner`, 'utf8'))
  }
  catch {
    return
  }
  if (!Number.isInteger(owner?.pid) || owner.file !== file || owner.boot !== bootId()) return
  try {
    process.kill(owner.pid, 0)
  }
  catch (error) {
    if (error.code !== 'EPERM') return
  }
  let isNode = true
  try {
    isNode = readFileSync(`/proc/${owner.pid}/cmdline`, 'utf8').includes('node')
  }
  catch { /* no /proc: assume it is */ }
  if (isNode) refuse(`a Mercury server (pid ${owner.pid}) is serving ${file}: stop it first, so that nothing is written during the copy`)
}

/** The migrations of this version of Mercury, the same for SQLite and PostgreSQL. */
function expectedMigrations() {
  return readdirSync(path.join(root, 'prisma/migrations')).filter(name => /^\d{14}_/.test(name)).sort()
}

function compareMigrations(applied, where, fix) {
  const expected = expectedMigrations()
  const missing = expected.filter(name => !applied.has(name))
  if (missing.length) refuse(`${where} lacks ${missing.length === 1 ? 'a migration' : `${missing.length} migrations`} of this version (${missing.join(', ')}): ${fix}`)
  const unknown = [...applied].filter(name => !expected.includes(name))
  if (unknown.length) refuse(`${where} has migrations this version does not know (${unknown.join(', ')}): copy with the version of Mercury that made them`)
}

/** The tables of the migrated PostgreSQL database, parents before the tables that refer to them. */
async function targetTables(target) {
  const { rows: tables } = await target.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations' ORDER BY table_name`)
  const { rows: columns } = await target.query(`SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`)
  const { rows: references } = await target.query(`SELECT DISTINCT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = 'public'`)
  const unquote = name => name.replace(/^"(.*)"$/, '$1')
  const parents = new Map(tables.map(t => [t.table_name, new Set()]))
  for (const { child, parent } of references) {
    if (unquote(child) !== unquote(parent)) parents.get(unquote(child))?.add(unquote(parent))
  }
  const ordered = []
  const placed = new Set()
  while (ordered.length < tables.length) {
    const next = tables.map(t => t.table_name).filter(name => !placed.has(name) && [...parents.get(name)].every(p => placed.has(p) || !parents.has(p)))
    if (next.length === 0) refuse('the foreign keys of the PostgreSQL database form a cycle: this copy cannot order them')
    for (const name of next) {
      ordered.push(name)
      placed.add(name)
    }
  }
  return ordered.map(name => ({ name, columns: columns.filter(c => c.table_name === name).map(c => ({ name: c.column_name, type: c.data_type })) }))
}

const quote = name => `"${name.replaceAll('"', '""')}"`

/** Prisma's SQLite DateTime: ISO text with an offset; also CURRENT_TIMESTAMP's text (UTC) and epoch milliseconds. */
function toTimestamp(value) {
  if (value === null) return null
  let date
  if (typeof value === 'number' || typeof value === 'bigint') date = new Date(Number(value))
  else if (typeof value === 'string') date = new Date(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(value) ? `${value.replace(' ', 'T')}Z` : value)
  if (!date || Number.isNaN(date.getTime())) throw new TypeError(`not a date: ${JSON.stringify(String(value))}`)
  // Without its zone: PostgreSQL's TIMESTAMP(3) holds UTC, as Prisma writes it there.
  return date.toISOString().slice(0, -1)
}

function toBoolean(value) {
  if (value === null) return null
  if (value === 0 || value === 1 || value === 0n || value === 1n) return Number(value) === 1
  if (typeof value === 'boolean') return value
  if (value === 'true' || value === 'false') return value === 'true'
  throw new TypeError(`not a boolean: ${JSON.stringify(String(value))}`)
}

function toInteger(value) {
  if (value === null) return null
  const number = Number(value)
  if (!Number.isSafeInteger(number) || (typeof value !== 'number' && typeof value !== 'bigint')) throw new TypeError(`not an integer: ${JSON.stringify(String(value))}`)
  return number
}

function toText(value) {
  if (value === null || typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  throw new TypeError('binary data where text is expected')
}

const converters = {
  'text': { convert: toText, sqlType: 'text' },
  'integer': { convert: toInteger, sqlType: 'integer' },
  'bigint': { convert: toInteger, sqlType: 'bigint' },
  'boolean': { convert: toBoolean, sqlType: 'boolean' },
  'timestamp without time zone': { convert: toTimestamp, sqlType: 'timestamp(3)' },
}

/** Copies one table page by page; returns the rows copied. */
async function copyTable(source, target, table) {
  const sourceColumns = new Set((await source.execute(`SELECT name FROM pragma_table_info('${table.name.replaceAll('\'', '\'\'')}')`)).rows.map(row => row.name))
  if (sourceColumns.size === 0) refuse(`the SQLite database has no table ${table.name}`)
  for (const column of table.columns) {
    if (!sourceColumns.has(column.name)) refuse(`the SQLite table ${table.name} has no column ${column.name}`)
    if (!converters[column.type]) refuse(`${table.name}.${column.name} has a type this copy does not know (${column.type})`)
  }
  const extra = [...sourceColumns].filter(name => !table.columns.some(c => c.name === name))
  if (extra.length) refuse(`the PostgreSQL table ${table.name} lacks the column(s) ${extra.join(', ')} of the SQLite one`)
  const names = table.columns.map(c => quote(c.name)).join(', ')
  // One statement per page whatever its size: the page travels as one JSON parameter.
  const insert = `INSERT INTO ${quote(table.name)} (${names}) SELECT ${names} FROM json_to_recordset($1::json) AS j(${table.columns.map(c => `${quote(c.name)} ${converters[c.type].sqlType}`).join(', ')})`
  const select = `SELECT rowid AS "__rowid", ${names} FROM ${quote(table.name)} WHERE rowid > ? ORDER BY rowid LIMIT ${PAGE_ROWS}`
  let after = -(2n ** 63n) // below every rowid
  let copied = 0
  for (;;) {
    const { rows } = await source.execute({ sql: select, args: [after] })
    if (rows.length === 0) break
    const page = rows.map((row) => {
      const out = {}
      for (const column of table.columns) {
        try {
          out[column.name] = converters[column.type].convert(row[column.name])
        }
        catch (error) {
          refuse(`${table.name}.${column.name} of the row with rowid ${row.__rowid}: ${error.message}; nothing was copied`)
        }
      }
      return out
    })
    await target.query(insert, [JSON.stringify(page)])
    copied += rows.length
    after = rows[rows.length - 1].__rowid
    if (rows.length < PAGE_ROWS) break
  }
  return copied
}

/**
 * The offset each topic's Redis counter must reach: the highest the embedded layer reserved
 * (Topic.offsetCeiling), or, should the SQLite database have been served with Redis (which keeps
 * no ceiling), the highest of its stored notifications.
 */
async function offsetFloors(source) {
  const { rows } = await source.execute(`SELECT "name" AS topic, "offsetCeiling" AS floor FROM "Topic" UNION ALL SELECT "topic", MAX("offset") FROM "Notification" GROUP BY "topic"`)
  const floors = new Map()
  for (const { topic, floor } of rows) floors.set(topic, Math.max(floors.get(topic) ?? 0, Number(floor)))
  return floors
}

/** Raises each topic's counter to its floor, never lowering one; returns how many were raised. */
async function raiseCounters(redisUrl, floors) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
  redis.on('error', () => {}) // reported by the command that fails
  redis.defineCommand('raiseOffset', {
    numberOfKeys: 1,
    lua: `local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if current < floor then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0`,
  })
  try {
    await redis.connect()
    let raised = 0
    const entries = [...floors].filter(([, floor]) => floor > 0)
    for (let i = 0; i < entries.length; i += PAGE_ROWS) {
      const pipeline = redis.pipeline()
      for (const [topic, floor] of entries.slice(i, i + PAGE_ROWS)) pipeline.raiseOffset(`${REDIS_PREFIX}offset:${topic}`, String(floor))
      for (const [error, result] of await pipeline.exec()) {
        if (error) throw error
        raised += result
      }
    }
    return raised
  }
  catch (error) {
    refuse(`cannot raise the offset counters in Redis (${redisUrl.replace(/\/\/[^@/]*@/, '//')}): ${error.message}`)
  }
  finally {
    redis.disconnect()
  }
}

async function main() {
  const options = parseCommandLine(process.argv.slice(2))
  const file = sqliteFile(options.from)
  checkNotServed(file)
  const shownTarget = options.to.replace(/\/\/[^@/]*@/, '//')

  const source = createClient({ url: `file:${file}` })
  const target = new pg.Client({ connectionString: options.to })
  try {
    try {
      await target.connect()
    }
    catch (error) {
      refuse(`cannot connect to ${shownTarget}: ${error.message}`)
    }

    let sourceMigrations
    try {
      sourceMigrations = (await source.execute(`SELECT "migration_name" FROM "_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL`)).rows.map(row => row.migration_name)
    }
    catch (error) {
      if (/no such table/.test(error.message)) refuse(`${file} has no Mercury tables: is it Mercury's database?`)
      if (/not a database|malformed|SQLITE_CORRUPT|SQLITE_NOTADB/i.test(error.message)) refuse(`${file} cannot be read as a SQLite database: ${error.message}`)
      throw error
    }
    compareMigrations(new Set(sourceMigrations), file, `start this version of Mercury on it once (or DATABASE_URL=file:${file} npm run migrate), stop it, then copy`)
    const targetMigrations = await target.query(`SELECT "migration_name" FROM "_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL`)
      .catch((error) => {
        if (error.code === '42P01') refuse(`${shownTarget} has no Mercury tables: run DATABASE_URL=<the same URL> npm run migrate first`)
        throw error
      })
    compareMigrations(new Set(targetMigrations.rows.map(row => row.migration_name)), shownTarget, 'run DATABASE_URL=<the same URL> npm run migrate first')

    const tables = await targetTables(target)
    // One snapshot of the SQLite file from the first page to the last.
    await source.execute('BEGIN')
    await target.query('BEGIN')
    const holding = []
    for (const table of tables) {
      const { rows } = await target.query(`SELECT count(*)::int AS n FROM ${quote(table.name)}`)
      if (rows[0].n > 0) holding.push(`${table.name}: ${rows[0].n}`)
    }
    if (holding.length && !options.replace) {
      refuse(`${shownTarget} already holds data (${holding.join(', ')}): copy into a database that npm run migrate prepared and no server has started on (a server's first start creates the admin user and VAPID keys), or add --replace to delete what it holds`)
    }
    if (holding.length) await target.query(`TRUNCATE ${tables.map(t => quote(t.name)).join(', ')}`)

    const summary = []
    for (const table of tables) {
      const copied = await copyTable(source, target, table)
      const expected = Number((await source.execute(`SELECT count(*) AS n FROM ${quote(table.name)}`)).rows[0].n)
      const { rows } = await target.query(`SELECT count(*)::int AS n FROM ${quote(table.name)}`)
      if (copied !== expected || rows[0].n !== expected) refuse(`${table.name}: the SQLite table has ${expected} rows, ${copied} were read and PostgreSQL holds ${rows[0].n}: nothing was copied`)
      summary.push([table.name, expected])
    }
    const floors = await offsetFloors(source)
    await source.execute('COMMIT')
    // Before the commit: should Redis fail, nothing is copied. Counters only go up, so raising
    // them is harmless should the commit fail after all.
    const raised = options.redis ? await raiseCounters(options.redis, floors) : null
    await target.query('COMMIT')

    const width = Math.max(...summary.map(([name]) => name.length))
    console.log(`Copied ${file} into ${shownTarget}${holding.length ? ' (its previous rows deleted)' : ''}:`)
    for (const [name, rows] of summary) console.log(`  ${name.padEnd(width)}  ${String(rows).padStart(9)}`)
    console.log('Every table holds as many rows as in SQLite.')
    if (raised !== null) {
      console.log(`Offsets: ${raised} of ${[...floors.values()].filter(f => f > 0).length} topic counters raised in Redis; the next offset of each topic follows every offset handed out before.`)
    }
    else {
      console.log('Offsets: kept in the Topic table (for servers without REDIS_URL). With REDIS_URL, copy again with --replace --redis <URL>, or the topics\' offsets start over.')
    }
  }
  finally {
    source.close()
    await target.end().catch(() => {})
  }
}

try {
  await main()
}
catch (error) {
  if (!(error instanceof Refusal)) {
    console.error(`mercury: the copy failed, nothing was copied: ${error.message}`)
    process.exit(1)
  }
  console.error(`mercury: ${error.message}`)
  process.exit(1)
}
