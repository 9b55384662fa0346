// Writes prisma/postgres/schema.prisma, the PostgreSQL twin of prisma/schema.prisma.
// One source of truth: only the datasource provider and the client's output differ.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const source = readFileSync(`${root}prisma/schema.prisma`, 'utf8')
const twin = source
  .replace('provider = "sqlite"', 'provider = "postgresql"')
  .replace('url      = "file:./unused.db"', 'url      = "postgresql://unused"')
  .replace('output     = "../server/generated/sqlite"', 'output     = "../../server/generated/postgres"')
if (!twin.includes('"postgresql"') || !twin.includes('generated/postgres')) {
  throw new Error('pg-schema: prisma/schema.prisma no longer has the expected datasource/generator lines')
}
mkdirSync(`${root}prisma/postgres`, { recursive: true })
writeFileSync(`${root}prisma/postgres/schema.prisma`,
  `// GENERATED from prisma/schema.prisma by scripts/pg-schema.mjs. Do not edit.\n${twin}`)
