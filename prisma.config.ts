// Prisma CLI configuration. The Wasm schema engine (engine: 'js') lets `migrate deploy` run
// without downloading engines; SQLite by default, PostgreSQL when DATABASE_URL says so.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { defineConfig } from 'prisma/config'
import { PrismaLibSQL } from '@prisma/adapter-libsql'
import { PrismaPg } from '@prisma/adapter-pg'

// The same database as `npm start` and the server: MERCURY_DATA_DIR's mercury.db by default.
const url = process.env.DATABASE_URL || `file:${path.resolve(process.env.MERCURY_DATA_DIR || 'data', 'mercury.db')}`
const pg = /^postgres(ql)?:/.test(url)
const dir = pg ? 'prisma/postgres' : 'prisma'
if (process.argv.includes('migrate')) {
  // The CLI names the schema's placeholder ("unused.db"), not the database migrated: say which.
  const target = pg ? url.replace(/\/\/[^@/]*@/, '//') : url.slice('file:'.length)
  console.error(`Mercury: migrating ${target}`)
  // libsql cannot create the file in a directory that does not exist ("External error id#0").
  if (!pg) mkdirSync(path.dirname(path.resolve(target)), { recursive: true, mode: 0o700 })
}
// The PostgreSQL schema is generated from prisma/schema.prisma (by `npm install`): a tree set up
// without running install scripts (node_modules copied in) writes it here rather than have the CLI
// fail with a misleading download error.
if (pg && !existsSync(path.join(dir, 'schema.prisma'))) execFileSync(process.execPath, ['scripts/pg-schema.mjs'], { stdio: 'inherit' })

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join(dir, 'schema.prisma'),
  migrations: { path: path.join(dir, 'migrations') },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  adapter: async () => (pg ? new PrismaPg({ connectionString: url }) : new PrismaLibSQL({ url })) as any,
})
