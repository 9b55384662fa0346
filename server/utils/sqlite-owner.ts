// Without Redis, one process serves a SQLite database: a second one would number the topics'
// offsets on its own and reach only its own clients. A file beside the database names the
// process that serves it; another process finding that one alive stops at start-up and says so.
// With Redis, several may (their offsets and messages go through Redis), but none next to one
// without it: the file says which kind serves, and only the same kind may join.
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { ConfigError } from './config'
import { sqliteFile } from './sqlite-access'

interface Owner { pid: number, file: string, boot: string, redis?: boolean }

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  }
  catch {
    return ''
  }
}

/** Whether the owner recorded is this machine's process, still running, for this very file. */
function serving(owner: Owner, file: string): boolean {
  // A copy of the data directory (a backup restored elsewhere), or a file from before a reboot.
  if (owner.file !== file || owner.boot !== bootId()) return false
  try {
    process.kill(owner.pid, 0)
  }
  catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    return readFileSync(`/proc/${owner.pid}/cmdline`, 'utf8').includes('node') // not a reused pid
  }
  catch {
    return true
  }
}

function readOwner(ownerFile: string): Owner | null {
  try {
    const owner = JSON.parse(readFileSync(ownerFile, 'utf8')) as Owner
    return Number.isInteger(owner.pid) ? owner : null
  }
  catch {
    return null
  }
}

/**
 * Stops the start (ConfigError) when another live process serves the SQLite file of `databaseUrl`
 * in a way this one cannot join: any process, for one without Redis; one without Redis, for one with it.
 */
export function checkSqliteUnserved(databaseUrl: string, { redis = false } = {}): void {
  const file = sqliteFile(databaseUrl)
  const owner = readOwner(`${file}.owner`)
  if (owner && owner.pid !== process.pid && serving(owner, file) && !(redis && owner.redis)) throw servedError(owner, file, redis)
}

function servedError(owner: Owner, file: string, redis: boolean): ConfigError {
  if (owner.redis) {
    return new ConfigError(`another Mercury process (pid ${owner.pid}) serves ${file} with Redis: start this one with the same REDIS_URL, or stop the others first (see docs/OPERATIONS.md)`)
  }
  if (redis) {
    return new ConfigError(`another Mercury process (pid ${owner.pid}) serves ${file} without Redis: stop it first, then start every process with the same REDIS_URL (see docs/OPERATIONS.md)`)
  }
  return new ConfigError(`another Mercury process (pid ${owner.pid}) already serves ${file} without Redis: run one process per SQLite database, or set REDIS_URL to run several (see docs/OPERATIONS.md)`)
}

/**
 * Claims the SQLite file of `databaseUrl` for this process, until it exits. With Redis the claim
 * is shared: a process with Redis finding another one with Redis goes on (and the first one's
 * file stands for both).
 */
export function claimSqlite(databaseUrl: string, { redis = false } = {}): void {
  const file = sqliteFile(databaseUrl)
  const ownerFile = `${file}.owner`
  const mine: Owner = { pid: process.pid, file, boot: bootId(), redis }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(ownerFile, JSON.stringify(mine), { flag: 'wx' })
      process.once('exit', () => {
        if (readOwner(ownerFile)?.pid === process.pid) rmSync(ownerFile, { force: true })
      })
      return
    }
    catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return // a read-only directory: nothing to guard with
    }
    const owner = readOwner(ownerFile)
    if (owner?.pid === process.pid) return
    if (owner && serving(owner, file)) {
      if (redis && owner.redis) return
      throw servedError(owner, file, redis)
    }
    rmSync(ownerFile, { force: true }) // left by a process that did not exit cleanly
  }
}
