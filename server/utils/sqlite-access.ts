// A SQLite database this process cannot write (a data directory or a mercury.db of another user,
// read-only) fails late and obscurely: "attempt to write a readonly database" at the first write,
// or a Rust backtrace from prisma migrate deploy. Checked at start instead, naming the setting.
import { accessSync, constants, existsSync } from 'node:fs'
import path from 'node:path'
import { ConfigError, type MercuryConfig } from './config'

const REASONS: Record<string, string> = { EACCES: 'permission denied', EPERM: 'permission denied', EROFS: 'read-only file system', ENOENT: 'no such file or directory' }

export function sqliteFile(databaseUrl: string): string {
  return path.resolve(databaseUrl.slice('file:'.length))
}

/**
 * Throws a ConfigError unless this process may write the SQLite file of `databaseUrl`, its
 * -wal and -shm files where they exist, and its directory (where SQLite makes them).
 */
export function checkSqliteWritable(config: Pick<MercuryConfig, 'databaseUrl' | 'dataDir'>): void {
  const file = sqliteFile(config.databaseUrl)
  const directory = path.dirname(file)
  const setting = directory === config.dataDir ? `MERCURY_DATA_DIR=${config.dataDir}` : `DATABASE_URL=${config.databaseUrl}`
  const targets = [directory, ...[file, `${file}-wal`, `${file}-shm`].filter(existsSync)]
  for (const target of targets) {
    try {
      accessSync(target, target === directory ? constants.W_OK | constants.X_OK : constants.R_OK | constants.W_OK)
    }
    catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? ''
      throw new ConfigError(`cannot write to ${target} (${setting}): ${REASONS[code] ?? (error as Error).message} — run Mercury as the user who owns it, or fix its permissions`)
    }
  }
}
