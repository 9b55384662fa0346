import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, runSql, type TestDatabase } from '../helpers/server'

// Deleting a row (a notification past retention, a user, a source) makes the database find every
// row whose foreign key points at it: without an index led by that key it reads the whole table,
// once per deleted row. On SQLite that runs on the event loop: 500 expired notifications over an
// inbox of 170,000 rows held the server for 7.5 s, every minute.

interface ForeignKey { table: string, columns: string[] }

async function foreignKeysWithoutIndex(db: TestDatabase): Promise<ForeignKey[]> {
  const keys: ForeignKey[] = []
  const indexes = new Map<string, string[][]>()
  if (db.url.startsWith('file:')) {
    const tables = await runSql<{ name: string }>(db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_prisma%'`)
    for (const { name } of tables) {
      const fks = await runSql<{ id: number, from: string }>(db, `SELECT id, "from" FROM pragma_foreign_key_list('${name}') ORDER BY id, seq`)
      const byId = new Map<number, string[]>()
      for (const fk of fks) byId.set(fk.id, [...byId.get(fk.id) ?? [], fk.from])
      for (const columns of byId.values()) keys.push({ table: name, columns })
      const list: string[][] = []
      for (const index of await runSql<{ name: string }>(db, `SELECT name FROM pragma_index_list('${name}')`)) {
        list.push((await runSql<{ name: string }>(db, `SELECT name FROM pragma_index_info('${index.name}') ORDER BY seqno`)).map(c => c.name))
      }
      indexes.set(name, list)
    }
  }
  else {
    const fks = await runSql<{ table: string, columns: string[] }>(db, `
      SELECT c.conrelid::regclass::text AS table, array_agg(a.attname::text ORDER BY k.n) AS columns
      FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
      WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
      GROUP BY c.oid, c.conrelid`)
    keys.push(...fks.map(fk => ({ table: fk.table.replace(/"/g, ''), columns: fk.columns })))
    const rows = await runSql<{ table: string, columns: string[] }>(db, `
      SELECT i.indrelid::regclass::text AS table, array_agg(a.attname::text ORDER BY k.n) AS columns
      FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      JOIN pg_class t ON t.oid = i.indrelid
      WHERE t.relnamespace = 'public'::regnamespace
      GROUP BY i.indexrelid, i.indrelid`)
    for (const row of rows) {
      const table = row.table.replace(/"/g, '')
      indexes.set(table, [...indexes.get(table) ?? [], row.columns])
    }
  }
  // An index serves the key when the key's columns are its first ones (in any order).
  const serves = (index: string[], key: string[]) => key.every(column => index.slice(0, key.length).includes(column))
  return keys.filter(key => !(indexes.get(key.table) ?? []).some(index => serves(index, key.columns)))
}

describe('the schema', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db?.drop()
  })

  it('has an index led by every foreign key, so that deleting what it points at reads no whole table', async () => {
    const keys = await foreignKeysWithoutIndex(db)
    expect(keys).toEqual([])
  })

  it('finds the foreign keys at all (the check above cannot pass on an empty list)', async () => {
    // Guards the query: an empty result must mean "all indexed", not "none read".
    const all = await runSql<{ n: number }>(db, db.url.startsWith('file:')
      ? `SELECT count(*) AS n FROM sqlite_master m, pragma_foreign_key_list(m.name) WHERE m.type = 'table'`
      : `SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`)
    expect(Number(all[0]!.n)).toBeGreaterThanOrEqual(10)
  })
})
