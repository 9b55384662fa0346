// Prisma CLI configuration. The Wasm schema engine (engine: 'js') lets `migrate deploy` run
// without downloading engines; SQLite by default, PostgreSQL when DATABASE_URL says so.
import path from 'node:path'
import { defineConfig } from 'prisma/config'
import { PrismaLibSQL } from '@prisma/adapter-libsql'
import { PrismaPg } from '@prisma/adapter-pg'

const url = process.env.DATABASE_URL || 'file:./data/mercury.db'
const pg = /^postgres(ql)?:/.test(url)
const dir = pg ? 'prisma/postgres' : 'prisma'

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join(dir, 'schema.prisma'),
  migrations: { path: path.join(dir, 'migrations') },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  adapter: async () => (pg ? new PrismaPg({ connectionString: url }) : new PrismaLibSQL({ url })) as any,
})
