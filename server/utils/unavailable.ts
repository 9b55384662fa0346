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

/**
 * What a write refused by the database because another request changed the same rows at the same
 * moment means for the client, or null. Routes check and write in one step where it matters; this
 * is for a race they do not foresee, which would otherwise answer a bare 500: a unique value taken
 * (P2002), no row left to change (P2025), a row referred to deleted (P2003).
 */
export function concurrentChange(error: unknown, depth = 0): { statusCode: 404 | 409, message: string } | null {
  if (!error || typeof error !== 'object' || depth > 4) return null
  const { code, cause } = error as { code?: unknown, cause?: unknown }
  if (code === 'P2002') return { statusCode: 409, message: 'A record this request writes was created by another request at the same moment: retry' }
  if (code === 'P2003') return { statusCode: 409, message: 'A record this request refers to was changed by another request at the same moment: retry' }
  if (code === 'P2025') return { statusCode: 404, message: 'A record this request changes was deleted by another request at the same moment' }
  return concurrentChange(cause, depth + 1)
}
