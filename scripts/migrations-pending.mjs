// Prints "current" when the database of DATABASE_URL has every migration of this version, else
// "pending" (no tables yet, a migration missing, or a question prisma migrate answers better).
// Run by scripts/start.mjs in a process of its own: see migrationsPending there.
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const url = process.env.DATABASE_URL ?? ''
const query = 'SELECT "migration_name" FROM "_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL'

async function applied() {
  if (url.startsWith('file:')) {
    if (!existsSync(url.slice('file:'.length))) return []
    const { createClient } = await import('@libsql/client')
    const client = createClient({ url })
    try {
      return (await client.execute(query)).rows.map(row => row.migration_name)
    }
    finally {
      client.close()
    }
  }
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(query)).rows.map(row => row.migration_name)
  }
  finally {
    await client.end()
  }
}

let done
try {
  done = new Set(await applied())
}
catch {
  done = new Set()
}
const expected = readdirSync(path.join(root, 'prisma/migrations')).filter(name => /^\d{14}_/.test(name))
console.log(expected.every(name => done.has(name)) ? 'current' : 'pending')
process.exit(0)
