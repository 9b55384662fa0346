import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createClient, type Client, type Config, type InStatement } from '@libsql/client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { InPlaceTransactionsLibSQL } from '../../server/utils/libsql'

// Prisma's side of a driver adapter: what the client calls for raw statements and transactions.
type Adapter = Awaited<ReturnType<InPlaceTransactionsLibSQL['connect']>>

let dir: string
let adapter: Adapter

const sql = (text: string) => ({ sql: text, args: [], argTypes: [] })
const rows = async (text: string) => (await adapter.queryRaw(sql(text))).rows
const names = async () => (await rows('SELECT name FROM item ORDER BY name')).map(r => r[0])

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mercury-libsql-'))
  adapter = await new InPlaceTransactionsLibSQL({ url: `file:${path.join(dir, 'test.db')}` }).connect()
  await adapter.executeRaw(sql('CREATE TABLE item (name TEXT PRIMARY KEY)'))
})

afterEach(async () => {
  await adapter.dispose()
  rmSync(dir, { recursive: true, force: true })
})

describe('InPlaceTransactionsLibSQL', () => {
  it('commits and rolls back on the one connection, which keeps its settings', async () => {
    // A per-connection setting: @libsql/client's own transactions replaced the connection, losing it.
    await adapter.queryRaw(sql('PRAGMA busy_timeout = 4321'))
    const kept = await adapter.startTransaction()
    await kept.executeRaw(sql(`INSERT INTO item VALUES ('kept')`))
    await kept.commit()
    const dropped = await adapter.startTransaction()
    await dropped.executeRaw(sql(`INSERT INTO item VALUES ('dropped')`))
    await dropped.rollback()
    expect(await names()).toEqual(['kept'])
    expect(await rows('PRAGMA busy_timeout')).toEqual([[4321]])
  })

  it('keeps the statements that follow out of a transaction that failed', async () => {
    await adapter.executeRaw(sql(`INSERT INTO item VALUES ('a')`))
    const failing = await adapter.startTransaction()
    await failing.executeRaw(sql(`INSERT INTO item VALUES ('b')`))
    await expect(failing.executeRaw(sql(`INSERT INTO item VALUES ('a')`))).rejects.toThrow(/UniqueConstraint|UNIQUE/)
    await failing.rollback()
    // Autocommit again: this insert stays whatever happens to the next transaction.
    await adapter.executeRaw(sql(`INSERT INTO item VALUES ('c')`))
    const next = await adapter.startTransaction()
    await next.executeRaw(sql(`INSERT INTO item VALUES ('d')`))
    await next.rollback()
    expect(await names()).toEqual(['a', 'c'])
  })

  it('ends the transaction when COMMIT fails', async () => {
    await adapter.executeRaw(sql('CREATE TABLE child (parent TEXT REFERENCES item(name) DEFERRABLE INITIALLY DEFERRED)'))
    await adapter.queryRaw(sql('PRAGMA foreign_keys = ON'))
    const tx = await adapter.startTransaction()
    await tx.executeRaw(sql(`INSERT INTO child VALUES ('nobody')`))
    // The deferred foreign key is checked at COMMIT, which fails.
    await expect(tx.commit()).rejects.toThrow(/FOREIGN KEY/)
    await adapter.executeRaw(sql(`INSERT INTO item VALUES ('after')`))
    expect(await names()).toEqual(['after'])
    expect(await rows('SELECT count(*) FROM child')).toEqual([[0]])
    // And a new transaction can start.
    const again = await adapter.startTransaction()
    await again.commit()
  })

  it('drops a connection whose transaction can be neither committed nor rolled back, keeping its settings', async () => {
    // SQLite refuses COMMIT and ROLLBACK while a statement of the transaction is in progress.
    const refused = new Set<string>()
    class Refusing extends InPlaceTransactionsLibSQL {
      protected override openClient(config: Config): Client {
        const client = super.openClient(config)
        const execute = client.execute.bind(client)
        client.execute = ((stmt: InStatement) => {
          const text = typeof stmt === 'string' ? stmt : stmt.sql
          if (refused.delete(text)) return Promise.reject(new Error(`SQLITE_BUSY: cannot ${text.toLowerCase()} transaction - SQL statements in progress`))
          return execute(stmt)
        }) as Client['execute']
        return client
      }
    }
    await adapter.dispose()
    const file = path.join(dir, 'refusing.db')
    adapter = await new Refusing({ url: `file:${file}` }).connect()
    await adapter.executeRaw(sql('CREATE TABLE item (name TEXT PRIMARY KEY)'))
    await adapter.queryRaw(sql('PRAGMA busy_timeout = 4321'))
    const tx = await adapter.startTransaction()
    await tx.executeRaw(sql(`INSERT INTO item VALUES ('lost')`))
    refused.add('COMMIT').add('ROLLBACK')
    await expect(tx.commit()).rejects.toThrow(/statements in progress/)
    // What follows is committed at once: another connection sees it and can write.
    await adapter.executeRaw(sql(`INSERT INTO item VALUES ('after')`))
    const other = createClient({ url: `file:${file}` })
    expect((await other.execute('SELECT name FROM item')).rows.map(r => r.name)).toEqual(['after'])
    await other.execute(`INSERT INTO item VALUES ('other')`)
    other.close()
    expect(await names()).toEqual(['after', 'other'])
    expect(await rows('PRAGMA busy_timeout')).toEqual([[4321]])
    const again = await adapter.startTransaction()
    await again.executeRaw(sql(`INSERT INTO item VALUES ('again')`))
    await again.commit()
    expect(await names()).toEqual(['after', 'again', 'other'])
  })

  it('commits what follows a statement that met another process\'s lock', async () => {
    // libsql leaves a statement that failed in progress until it is garbage-collected; until then
    // the connection stays in its implicit transaction and nothing written after it is committed.
    await adapter.queryRaw(sql('PRAGMA journal_mode = WAL'))
    await adapter.queryRaw(sql('PRAGMA busy_timeout = 50'))
    const other = createClient({ url: `file:${path.join(dir, 'test.db')}` })
    await other.execute('BEGIN EXCLUSIVE')
    await expect(adapter.executeRaw(sql(`INSERT INTO item VALUES ('refused')`))).rejects.toThrow(/locked|BUSY|SocketTimeout/i)
    const tx = await adapter.startTransaction().catch((error: Error) => error)
    expect(String(tx)).toMatch(/locked|BUSY|SocketTimeout/i)
    await other.execute('ROLLBACK')
    await adapter.executeRaw(sql(`INSERT INTO item VALUES ('after')`))
    expect((await other.execute('SELECT name FROM item')).rows.map(r => r.name)).toEqual(['after'])
    await other.execute(`INSERT INTO item VALUES ('other')`)
    other.close()
    expect(await names()).toEqual(['after', 'other'])
  })
})
