import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient as SqliteClient } from '../generated/sqlite/client'
import { PrismaClient as PostgresClient } from '../generated/postgres/client'
import { InPlaceTransactionsLibSQL } from './libsql'

// Both clients are generated from one schema (scripts/pg-schema.mjs), so one type serves both.
export type Db = SqliteClient

let client: Db | undefined
let ready: Promise<void> | undefined

function createClient(url: string): Db {
  if (isPostgresUrl(url)) {
    return new PostgresClient({ adapter: new PrismaPg({ connectionString: url }) }) as unknown as Db
  }
  return new SqliteClient({ adapter: new InPlaceTransactionsLibSQL({ url }) })
}

export function useDb(): Db {
  if (!client) {
    const { databaseUrl } = mercuryConfig()
    client = createClient(databaseUrl)
    if (!isPostgresUrl(databaseUrl)) {
      // WAL lets readers proceed while a writer commits; busy_timeout queues concurrent writers
      // (several processes may share the file) instead of failing with SQLITE_BUSY.
      ready = client.$queryRawUnsafe('PRAGMA journal_mode = WAL')
        .then(() => client!.$queryRawUnsafe('PRAGMA busy_timeout = 5000'))
        .then(() => undefined)
    }
  }
  return client
}

export async function dbReady(): Promise<void> {
  useDb()
  await ready
}

export async function closeDb(): Promise<void> {
  await client?.$disconnect()
  client = undefined
}

/**
 * Builds a raw statement for the batch reads and writes of the delivery path, which Prisma would
 * split into one compiled statement per row, and for the reads and writes made on every
 * connection, request or notification. A batch travels as one JSON parameter that the database
 * unpacks (`json_each` on SQLite, `json_to_recordset` on PostgreSQL), so the statement text stays
 * the same whatever the batch size and is cheap to prepare. `param` binds a value and returns its
 * placeholder (`$n` on PostgreSQL, `?n` on SQLite: numbered on both, so a placeholder may be used
 * twice); `timestamp` binds a DateTime as Prisma stores it (TIMESTAMP(3) on PostgreSQL, ISO text
 * with an offset on SQLite); `list` binds strings as one JSON array and returns a subquery of them,
 * for `IN …`; `records` binds rows as one JSON array and reads them as a table: `from` goes after
 * FROM, `column(name)` reads a field (DateTime fields given as Dates).
 */
export function rawStatement() {
  const postgres = isPostgresUrl(mercuryConfig().databaseUrl)
  const params: unknown[] = []
  const param = (value: unknown) => {
    params.push(value)
    return `${postgres ? '$' : '?'}${params.length}`
  }
  const timestamp = (date: Date) => postgres
    ? `CAST(${param(date.toISOString())} AS TIMESTAMP(3))`
    : param(date.toISOString().replace('Z', '+00:00'))
  const list = (values: string[]) => {
    const json = param(JSON.stringify(values))
    return postgres ? `(SELECT json_array_elements_text(${json}::json))` : `(SELECT value FROM json_each(${json}))`
  }
  const records = <K extends string>(rows: Record<K, unknown>[], columns: Record<K, 'text' | 'int' | 'timestamp'>) => {
    const names = Object.keys(columns) as K[]
    const stamps = names.filter(name => columns[name] === 'timestamp')
    // DateTimes as Prisma stores them; JSON would write them in ISO with a Z.
    const stored = stamps.length === 0 || postgres
      ? rows
      : rows.map(row => ({ ...row, ...Object.fromEntries(stamps.map(name => [name, (row[name] as Date | null)?.toISOString().replace('Z', '+00:00') ?? null])) }))
    const json = param(JSON.stringify(stored))
    return postgres
      ? {
          from: `json_to_recordset(${json}::json) AS j(${names.map(name => `"${name}" ${columns[name] === 'timestamp' ? 'TIMESTAMP(3)' : columns[name]}`).join(', ')})`,
          column: (name: K) => `j."${name}"`,
        }
      : { from: `json_each(${json}) AS j`, column: (name: K) => `json_extract(j.value, '$.${name}')` }
  }
  return { postgres, params, param, timestamp, list, records }
}

export type RawStatement = ReturnType<typeof rawStatement>

/**
 * Runs one raw statement built on a fresh rawStatement() and returns its rows (a read, or a write
 * with RETURNING). Used for the reads made on every connection and request (token, session,
 * permissions) as well: Prisma compiles each model query anew on the event loop (0.3–0.75 ms of
 * CPU each, measured), a raw statement costs a quarter of that.
 */
export function queryRaw<T>(build: (sql: RawStatement) => string): Promise<T[]> {
  const sql = rawStatement()
  const text = build(sql)
  return useDb().$queryRawUnsafe<T[]>(text, ...sql.params)
}

/**
 * Runs one raw write built on a fresh rawStatement(). Like Prisma's own, it runs when awaited, so
 * that it can also go into `$transaction([...])`.
 */
export function executeRaw(build: (sql: RawStatement) => string): ReturnType<Db['$executeRawUnsafe']> {
  const sql = rawStatement()
  const text = build(sql)
  return useDb().$executeRawUnsafe(text, ...sql.params)
}
