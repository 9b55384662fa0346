// Prisma's libSQL adapter with transactions that keep the client's connection.
// It must stay free of Nitro auto-imports so tests can load it directly.
import { createClient, type Client, type Config, type InStatement, type Transaction, type TransactionMode } from '@libsql/client'
import { PrismaLibSQL } from '@prisma/adapter-libsql'

const BEGIN: Record<TransactionMode, string> = { write: 'BEGIN IMMEDIATE', read: 'BEGIN TRANSACTION READONLY', deferred: 'BEGIN DEFERRED' }

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
  override createClient(config: Config): Client {
    const client = createClient(config)
    const transaction = async (mode: TransactionMode = 'write'): Promise<Transaction> => {
      await client.execute(BEGIN[mode])
      let open = true
      const end = async (sql: 'COMMIT' | 'ROLLBACK') => {
        if (!open) return
        open = false
        try {
          await client.execute(sql)
        }
        catch (error) {
          // A COMMIT that failed (SQLITE_BUSY) leaves the transaction open: end it here, or the
          // statements that follow would join it. Should SQLite have ended it already, this fails too.
          if (sql === 'COMMIT') await client.execute('ROLLBACK').catch(() => {})
          throw error
        }
      }
      return {
        execute: (stmt: InStatement) => client.execute(stmt),
        batch: async (stmts: InStatement[]) => {
          const results = []
          for (const stmt of stmts) results.push(await client.execute(stmt))
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
    return new Proxy(client, {
      get(target, property) {
        if (property === 'transaction') return transaction
        const value = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  }
}
