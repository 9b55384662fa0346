// Prisma's libSQL adapter with transactions that keep the client's connection.
// It must stay free of Nitro auto-imports so tests can load it directly.
import { createClient, type Client, type Config, type InStatement, type Transaction, type TransactionMode } from '@libsql/client'
import { PrismaLibSQL } from '@prisma/adapter-libsql'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'

// Prisma's adapter asks for "deferred" transactions. They begin IMMEDIATE instead: the write lock
// is taken (waiting up to busy_timeout) by BEGIN, which fails cleanly when another process holds
// it. A deferred transaction meets a lock at its first write instead, and SQLite may then refuse
// its COMMIT and ROLLBACK alike while the failed statement is in progress.
const BEGIN: Record<TransactionMode, string> = { write: 'BEGIN IMMEDIATE', read: 'BEGIN TRANSACTION READONLY', deferred: 'BEGIN IMMEDIATE' }

/**
 * Finalizes the statements (and connections) nothing refers to any more, now rather than whenever
 * V8 gets to it: a full collection, then a turn of the event loop, where native finalizers run.
 * For rare failures only (see `run` and `reopen`).
 */
async function finalizeAbandoned() {
  v8.setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  await new Promise(resolve => setImmediate(resolve))
}

/**
 * Prisma's libSQL adapter, whose transactions run on the client's one connection.
 * @libsql/client hands its connection to each transaction and opens a new one for whatever comes
 * next: every transaction opened a connection (the file, the schema read again, `busy_timeout`
 * lost) and left the old one open until garbage-collected — ~1 ms of CPU per notification stored.
 * The adapter runs nothing else on the client while one of its transactions is open (it holds its
 * lock from the start of the transaction to its commit or rollback), so BEGIN, the statements and
 * COMMIT can share the connection.
 */
export class InPlaceTransactionsLibSQL extends PrismaLibSQL {
  /** The connection's own client: tests replace it to make statements fail. */
  protected openClient(config: Config): Client {
    return createClient(config)
  }

  override createClient(config: Config): Client {
    let client = this.openClient(config)
    // Settings made with `PRAGMA name = value`, for a connection opened in place of this one.
    const settings = new Map<string, string>()
    /**
     * A transaction that can be neither committed nor rolled back (SQLite refuses both while a
     * statement of it is still in progress) would stay open for ever: every later statement would
     * join it — acknowledged, never committed — and its write lock would keep other processes out.
     * Closing the connection ends it; a new one takes its place, with the same settings.
     */
    const reopen = async () => {
      try {
        client.close()
      }
      catch { /* closed already */ }
      client = this.openClient(config)
      for (const setting of settings.values()) void client.execute(setting)
      // libsql closes a connection (rolling its transaction back, releasing its lock) only once
      // its statements are garbage-collected.
      await finalizeAbandoned()
    }
    /**
     * Every statement goes through here. libsql leaves a statement that failed in progress (it is
     * never reset), and the connection stays in the transaction that statement began: after one
     * that met another process's lock (SQLITE_BUSY), nothing this connection wrote next was ever
     * committed. Such a failure is rare: the connection is replaced before anything else runs
     * (Prisma's adapter runs one statement at a time), which also ends a transaction it was in.
     */
    const run = async (stmt: InStatement) => {
      try {
        return await client.execute(stmt)
      }
      catch (error) {
        if (/SQLITE_BUSY|database is locked/i.test(String((error as Error).message))) await reopen()
        throw error
      }
    }
    const transaction = async (mode: TransactionMode = 'write'): Promise<Transaction> => {
      await run(BEGIN[mode])
      let open = true
      const end = async (sql: 'COMMIT' | 'ROLLBACK') => {
        if (!open) return
        open = false
        try {
          await run(sql)
        }
        catch (error) {
          // A COMMIT or ROLLBACK that failed may leave the transaction open: end it here, or the
          // statements that follow would join it. Should SQLite have ended it already, this fails
          // too (harmlessly: "no transaction is active").
          await rollbackOrReopen()
          throw error
        }
      }
      const rollbackOrReopen = async () => {
        try {
          await run('ROLLBACK')
        }
        catch (error) {
          if (!/no transaction is active/.test((error as Error).message)) await reopen()
        }
      }
      return {
        execute: (stmt: InStatement) => run(stmt),
        batch: async (stmts: InStatement[]) => {
          const results = []
          for (const stmt of stmts) results.push(await run(stmt))
          return results
        },
        // The client's executeMultiple rolls back whatever transaction it finds open afterwards.
        executeMultiple: () => Promise.reject(new Error('executeMultiple is not available in a transaction')),
        commit: () => end('COMMIT'),
        rollback: () => end('ROLLBACK'),
        close: () => void end('ROLLBACK').catch(() => {}),
        get closed() {
          return !open
        },
      }
    }
    // The client keeps its state in private fields: its own methods must run on it, not on a proxy.
    // The client may be replaced (reopen): the proxy always forwards to the current one.
    const execute = (stmt: InStatement) => {
      const text = typeof stmt === 'string' ? stmt : stmt.sql
      const setting = /^\s*PRAGMA\s+(\w+)\s*=/i.exec(text)
      if (setting) settings.set(setting[1]!.toLowerCase(), text)
      return run(stmt)
    }
    // (Its target is not the client, which would keep the first connection alive for ever.)
    return new Proxy({} as Client, {
      get(_, property) {
        if (property === 'transaction') return transaction
        if (property === 'execute') return execute
        const value = Reflect.get(client, property, client)
        return typeof value === 'function' ? value.bind(client) : value
      },
    })
  }
}
