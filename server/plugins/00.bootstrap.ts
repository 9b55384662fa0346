import { MigrationsMissingError, persistentSecret, startupReady } from '../services/bootstrap'
import { ConfigError, isPostgresUrl, mercuryConfig } from '../utils/config'
import { MIN_NODE, nodeTooOld } from '../utils/node-version'
import { checkSqliteWritable } from '../utils/sqlite-access'
import { checkSqliteUnserved, claimSqlite } from '../utils/sqlite-owner'

/**
 * `node .output/server/index.mjs --check`: checks the settings, the database file's permissions
 * and its owner, then exits (0 when the server could start). npm start runs it before it migrates.
 */
const checkOnly = process.argv.includes('--check')

export default defineNitroPlugin(() => {
  if (nodeTooOld(process.version)) {
    console.error(`Mercury: needs Node.js ${MIN_NODE} or later, and this is Node.js ${process.version}: start it with the Node that npm install put in node_modules/.bin (npm start does; for the server by itself: node_modules/.bin/node .output/server/index.mjs)`)
    process.exit(1)
  }
  // A port that is taken or not allowed, for a server started by itself (npm start checks first):
  // one line and exit 1, before Nitro's handler would log the stack and carry on without a port.
  process.on('uncaughtException', (error: NodeJS.ErrnoException & { address?: string, port?: number }) => {
    if (error.syscall !== 'listen') return
    const where = `${error.address || 'all interfaces'} port ${error.port}`
    console.error(error.code === 'EADDRINUSE'
      ? `Mercury: ${where} is in use by another program: stop it, or set PORT to another port`
      : `Mercury: cannot listen on ${where} (${error.code}): check HOST and PORT`)
    process.exit(1)
  })
  try {
    // Every setting is read and checked here, before anything starts.
    const config = mercuryConfig()
    if (!isPostgresUrl(config.databaseUrl)) {
      checkSqliteWritable(config)
      const owner = checkOnly ? checkSqliteUnserved : claimSqlite
      owner(config.databaseUrl, { redis: Boolean(config.redisUrl) })
    }
    // nuxt-auth-utils reads the session password lazily from this variable.
    process.env.NUXT_SESSION_PASSWORD = persistentSecret('NUXT_SESSION_PASSWORD', 'session-secret')
  }
  catch (error) {
    // Anything else thrown here would end the process silently, with status 0.
    console.error(error instanceof ConfigError ? `Mercury: ${error.message}` : error)
    process.exit(1)
  }
  if (checkOnly) process.exit(0)
  startupReady().catch((error: unknown) => {
    // A database never migrated (migrations forgotten before starting the server itself): say
    // what to do and stop, rather than serve 500s.
    if (isUnmigrated(error)) {
      console.error('Mercury: the database has no Mercury tables: run "npm run migrate" (prisma migrate deploy) with the same DATABASE_URL first; "npm start" does it by itself')
      process.exit(1)
    }
    // Upgraded without migrating: the same advice, naming what is missing.
    if (error instanceof MigrationsMissingError) {
      console.error(`Mercury: ${error.message}: run "npm run migrate" (prisma migrate deploy) with the same DATABASE_URL first; "npm start" does it by itself`)
      process.exit(1)
    }
    if (isDatabaseUnavailable(error)) console.error(`Mercury: start-up failed, the database is unavailable: ${(error as Error).message}`)
    else console.error('Mercury: start-up failed:', error)
  })
})

function isUnmigrated(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 4) return false
  const { code, message, cause } = error as { code?: unknown, message?: unknown, cause?: unknown }
  if (code === 'P2021' || code === '42P01') return true
  if (typeof message === 'string' && /no such table|relation "[^"]+" does not exist/.test(message)) return true
  return isUnmigrated(cause, depth + 1)
}
