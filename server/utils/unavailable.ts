// Errors that mean "the database cannot answer now" rather than a bug: the client gets a 503
// with Retry-After instead of a 500.
const PRISMA_UNAVAILABLE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2034'])
const MESSAGE_UNAVAILABLE = /SQLITE_BUSY|database is locked|ECONNREFUSED|ECONNRESET|Connection terminated|terminating connection|Can't reach database|timed out|the database system is (starting up|shutting down)|too many clients|not currently accepting connections/i
// PostgreSQL SQLSTATEs: connection exceptions (08…), operator intervention (57P…), too many connections.
const PG_UNAVAILABLE = /^(08|57P)|^53300$/

export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 4) return false
  const { code, name, message, cause } = error as { code?: unknown, name?: unknown, message?: unknown, cause?: unknown }
  if (typeof code === 'string' && (PRISMA_UNAVAILABLE.has(code) || PG_UNAVAILABLE.test(code))) return true
  if (name === 'PrismaClientInitializationError') return true
  if (typeof message === 'string' && MESSAGE_UNAVAILABLE.test(message) && (name === 'DriverAdapterError' || String(name).startsWith('PrismaClient') || depth > 0)) return true
  return isDatabaseUnavailable(cause, depth + 1)
}
