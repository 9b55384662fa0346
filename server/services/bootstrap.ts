import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { dbReady, queryRaw, useDb } from '../utils/db'
import { ConfigError, mercuryConfig } from '../utils/config'
import { endAllTokens, isUniqueViolation } from './accounts'

/**
 * A secret read from the environment, else from `<dataDir>/<file>`, else generated and written
 * there (mode 0600) so that restarts and sibling processes on this machine share it.
 */
export function persistentSecret(envName: string, file: string): string {
  const fromEnv = process.env[envName]
  if (fromEnv) {
    // nuxt-auth-utils needs 32 characters: shorter, every login would fail.
    if (fromEnv.length < 32) throw new ConfigError(`${envName} must be at least 32 characters, got ${fromEnv.length}`)
    return fromEnv
  }
  const target = path.join(mercuryConfig().dataDir, file)
  if (existsSync(target)) return readSecret(target, envName)
  const secret = randomBytes(32).toString('base64url')
  try {
    writeFileSync(target, `${secret}\n`, { mode: 0o600, flag: 'wx' })
    return secret
  }
  catch (error) {
    // Another process wrote it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readSecret(target, envName)
    throw unusableSecretFile('write to', target, error, envName)
  }
}

function unusableSecretFile(what: string, target: string, error: unknown, envName: string): ConfigError {
  return new ConfigError(`cannot ${what} ${target} (MERCURY_DATA_DIR=${mercuryConfig().dataDir}): ${(error as Error).message} — run Mercury as the user who owns it, fix its permissions, or set ${envName}`)
}

/** A secret kept in the data dir: readable, and as long as the one set by variable must be. */
function readSecret(target: string, envName: string): string {
  let secret: string
  try {
    secret = readFileSync(target, 'utf8').trim()
  }
  catch (error) {
    throw unusableSecretFile('read', target, error, envName)
  }
  if (secret.length < 32) {
    throw new ConfigError(`${target} holds ${secret.length ? `${secret.length} characters` : 'nothing'}, and the secret must be at least 32: delete the file to have a new one made (existing sessions end), or set ${envName}`)
  }
  return secret
}

/** On an empty database, creates the `admin` user and prints its password once. */
export async function seedAdmin(): Promise<void> {
  const db = useDb()
  const reset = mercuryConfig().resetAdminPassword
  if (reset) {
    // For an operator who lost the admin password (or fears it is known): set it (and the admin
    // role) at start-up, and end every token of the admin, as a reset by an admin does.
    const passwordHash = await hashPassword(reset)
    const admin = await db.user.upsert({ where: { username: 'admin' }, create: { username: 'admin', role: 'admin', passwordHash }, update: { role: 'admin', passwordHash } })
    const ended = await endAllTokens(admin.id)
    console.log(`Mercury: the admin password was reset from MERCURY_RESET_ADMIN_PASSWORD (${ended} token${ended === 1 ? '' : 's'} ended, logins and personal tokens); unset it now.`)
    return
  }
  if (await db.user.count() > 0) return
  const configured = mercuryConfig().adminPassword
  const password = configured ?? randomBytes(12).toString('base64url')
  try {
    await db.user.create({ data: { username: 'admin', role: 'admin', passwordHash: await hashPassword(password) } })
  }
  catch (error) {
    if (isUniqueViolation(error)) return // a sibling process seeded it
    throw error
  }
  const shown = configured ? '(from MERCURY_ADMIN_PASSWORD)' : password
  console.log([
    '',
    '  Mercury: created the first user.',
    `    username: admin`,
    `    password: ${shown}`,
    configured ? '' : '  This password is shown only once: log in and change it (Devices & settings, Password).',
    '',
  ].join('\n'))
}

/** The database lacks migrations this version needs (upgraded without `npm run migrate`). */
export class MigrationsMissingError extends Error {}

/**
 * The migrations this build expects (nuxt.config.ts) against those applied to the database. One
 * missing: stop, rather than serve a schema this code does not match (500s where a column is
 * missing). Applied ones this build does not know (a newer version ran here, and this one is a
 * rollback) are allowed: migrations only add.
 */
async function checkMigrations(): Promise<void> {
  const expected = useRuntimeConfig().migrations as string[]
  const applied = await queryRaw<{ migration_name: string }>(() => `SELECT "migration_name" FROM "_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL`)
  const done = new Set(applied.map(row => row.migration_name))
  const missing = expected.filter(name => !done.has(name))
  if (missing.length) throw new MigrationsMissingError(`the database lacks ${missing.length === 1 ? 'a migration' : `${missing.length} migrations`} of this version (${missing.join(', ')})`)
}

/**
 * The migration that made usernames unique ignoring case appended "-<id>" to each name that
 * differed from an older one only by case. Said at every start while such names remain, so that
 * an operator knows whom to tell (or an admin renames them).
 */
async function reportRenamedUsers(): Promise<void> {
  const rows = await queryRaw<{ username: string }>(() => `SELECT "username" FROM "User" WHERE "username" LIKE '%-' || "id" ORDER BY "username"`)
  const renamed = rows.map(row => row.username)
  if (renamed.length === 0) return
  console.warn(`Mercury: ${renamed.length} username${renamed.length === 1 ? ' was' : 's were'} changed when usernames became unique ignoring case (each differed from an older one only by case; they log in with the new name, or an admin renames them): ${renamed.join(', ')}`)
}

let startup: Promise<void> | undefined

/** Resolves once the database answers and the first admin exists. */
export function startupReady(): Promise<void> {
  startup ??= dbReady().then(checkMigrations).then(seedAdmin).then(reportRenamedUsers)
  return startup
}
