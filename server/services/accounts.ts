import type { Role } from '#shared/schemas/accounts'
import { isPostgresUrl, mercuryConfig } from '../utils/config'
import { queryRaw, useDb, type Db } from '../utils/db'
import { announce } from './control'
import { newToken, hashToken } from '../utils/secrets'

export interface PublicUser {
  id: string
  username: string
  role: Role
  createdAt: Date
}

const publicUserSelect = { id: true, username: true, role: true, createdAt: true } as const

export function toPublicUser(row: { id: string, username: string, role: string, createdAt: Date }): PublicUser {
  return { id: row.id, username: row.username, role: row.role as Role, createdAt: row.createdAt }
}

export async function listUsers() {
  const rows = await useDb().user.findMany({
    select: { ...publicUserSelect, memberships: { select: { group: { select: { id: true, name: true } } } } },
    orderBy: { username: 'asc' },
  })
  return rows.map(({ memberships, ...user }) => ({ ...toPublicUser(user), groups: memberships.map(m => m.group) }))
}

export async function findUser(id: string) {
  return useDb().user.findUnique({ where: { id }, select: publicUserSelect })
}

export async function createUser(input: { username: string, password: string, role: Role }): Promise<PublicUser> {
  const row = await useDb().user.create({
    data: { username: input.username, passwordHash: await hashPassword(input.password), role: input.role },
    select: publicUserSelect,
  })
  return toPublicUser(row)
}

/** A password given here is a reset (by an admin): it ends every token of the user (endAllTokens). */
export async function updateUser(id: string, input: { username?: string, password?: string, role?: Role }) {
  const row = await useDb().user.update({
    where: { id },
    data: {
      username: input.username,
      role: input.role,
      passwordHash: input.password ? await hashPassword(input.password) : undefined,
    },
    select: publicUserSelect,
  })
  if (input.password) await endAllTokens(id)
  return toPublicUser(row)
}

/**
 * A user's own new password, unless the password was changed since `fromHash` was read (two
 * changes sent at once from two sessions: the first wins, the other is told its current password
 * is no longer right): false then, and nothing changed.
 */
export async function changeOwnPassword(id: string, fromHash: string, password: string, keepTokenId?: string): Promise<boolean> {
  const { count } = await useDb().user.updateMany({ where: { id, passwordHash: fromHash }, data: { passwordHash: await hashPassword(password) } })
  if (count === 0) return false
  await endOtherLogins(id, keepTokenId)
  return true
}

/**
 * A new password of one's own ends the tokens made by logging in with the old one but
 * `keepTokenId` (the caller's), and so every session of those logins. Personal access tokens stay:
 * their owner chose them, and revokes them at /api/me/tokens.
 */
function endOtherLogins(userId: string, keepTokenId?: string) {
  return revokeTokens({ userId, name: LOGIN_TOKEN_NAME, ...(keepTokenId ? { id: { not: keepTokenId } } : {}) })
}

/**
 * A password reset (set by an admin, or MERCURY_RESET_ADMIN_PASSWORD) is for a password lost or
 * known to someone else, who may have made personal tokens with it: it ends every token of the
 * user, logins and personal tokens, and their sockets on every instance. Resolves to how many.
 */
export function endAllTokens(userId: string): Promise<number> {
  return revokeTokens({ userId })
}

type Tx = Omit<Db, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>

/**
 * Demotes or deletes `userId` with `change`, unless that would leave no admin: false then, and
 * nothing is done. The admins are locked while it decides (SQLite: the transaction holds the
 * write lock from its start; PostgreSQL: the admin rows, FOR UPDATE), so two admins removing each
 * other at the same moment cannot both succeed.
 */
export async function unlessLastAdmin(userId: string, change: (tx: Tx) => Promise<unknown>): Promise<boolean> {
  return useDb().$transaction(async (tx) => {
    const admins = isPostgresUrl(mercuryConfig().databaseUrl)
      ? await tx.$queryRawUnsafe<{ id: string }[]>(`SELECT "id" FROM "User" WHERE "role" = 'admin' FOR UPDATE`)
      : await tx.user.findMany({ where: { role: 'admin' }, select: { id: true } })
    if (admins.length <= 1 && admins.some(admin => admin.id === userId)) return false
    await change(tx)
    return true
  })
}

export const LOGIN_TOKEN_NAME = 'login'

type TokenWhere = NonNullable<Parameters<Db['accessToken']['deleteMany']>[0]>['where']

/**
 * Deletes personal access tokens and closes, on every instance, the live connections opened with
 * them (directly, or through a session resting on one). Resolves to how many were deleted.
 */
export async function revokeTokens(where: TokenWhere): Promise<number> {
  const db = useDb()
  const ids = (await db.accessToken.findMany({ where, select: { id: true } })).map(t => t.id)
  if (ids.length === 0) return 0
  const { count } = await db.accessToken.deleteMany({ where: { id: { in: ids } } })
  await announce({ type: 'tokens.revoked', tokenIds: ids })
  return count
}

/**
 * A login (its token and every session resting on it) lapses once unused for MERCURY_SESSION_DAYS:
 * its last use, or its creation if it was never used, is before this. Tokens made with
 * POST /api/me/tokens never lapse.
 */
export function loginLapseCutoff(): Date {
  return new Date(Date.now() - mercuryConfig().sessionDays * 24 * 60 * 60_000)
}

/** Ids bound one by one: within SQLite's 999 bound values. */
const LAPSED_PAGE = 500

/**
 * Ends the logins that lapsed as a logout would, so that their open sockets close on every
 * instance (a lapsed token is already refused; this also keeps logins from piling up for ever).
 * Resolves to how many were ended.
 */
export async function revokeLapsedLogins(): Promise<number> {
  const cutoff = loginLapseCutoff()
  const lapsed = { name: LOGIN_TOKEN_NAME, OR: [{ lastUsedAt: { lt: cutoff } }, { lastUsedAt: null, createdAt: { lt: cutoff } }] }
  let ended = 0
  for (;;) {
    const page = await useDb().accessToken.findMany({ where: lapsed, select: { id: true }, take: LAPSED_PAGE })
    if (page.length === 0) return ended
    // Checked again as they are deleted: a login used in between stays.
    ended += await revokeTokens({ id: { in: page.map(t => t.id) }, ...lapsed })
    if (page.length < LAPSED_PAGE) return ended
  }
}

/**
 * Creates a personal access token; the secret is returned once and only its hash is kept. `tx`:
 * within that transaction (one that holds the user, lockUser).
 */
export async function createAccessToken(userId: string, name: string, tx: Tx = useDb()) {
  const token = newToken('mpat')
  const row = await tx.accessToken.create({
    data: { userId, name, tokenHash: hashToken(token) },
    select: { id: true, name: true, createdAt: true, lastUsedAt: true },
  })
  return { token, accessToken: row }
}

/**
 * The name of another user whose username differs from this one only by case: "Alice" next to
 * "alice" would let one pass for the other. Usernames are ASCII, so lower() agrees on both databases.
 */
export async function usernameTakenAs(username: string, exceptId = ''): Promise<string | null> {
  const [row] = await queryRaw<{ username: string }>(sql =>
    `SELECT "username" FROM "User" WHERE lower("username") = lower(${sql.param(username)}) AND "id" <> ${sql.param(exceptId)} LIMIT 1`)
  return row?.username ?? null
}

/** True when Prisma refused a write because a unique value is taken. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'P2002'
}

/** True when Prisma found no row to update or delete. */
export function isMissingRow(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'P2025'
}

/** True when Prisma refused a write because a row it refers to is gone (a foreign key). */
export function isMissingReference(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'P2003'
}

/**
 * Within a transaction, reads a user's password hash and holds the user until it ends, or null if
 * the user is gone: the requests of one user that count then add (tokens, devices, grants), or
 * that must not cross a change of password, run one at a time. SQLite: the transaction holds the
 * write lock from its start (utils/libsql.ts); PostgreSQL: the user's row, FOR UPDATE.
 */
export async function lockUser(tx: Tx, id: string): Promise<{ passwordHash: string } | null> {
  if (!isPostgresUrl(mercuryConfig().databaseUrl)) return tx.user.findUnique({ where: { id }, select: { passwordHash: true } })
  const [row] = await tx.$queryRawUnsafe<{ passwordHash: string }[]>(`SELECT "passwordHash" FROM "User" WHERE "id" = $1 FOR UPDATE`, id)
  return row ?? null
}

/** As lockUser, for a group: whether it exists. */
export async function lockGroup(tx: Tx, id: string): Promise<boolean> {
  if (!isPostgresUrl(mercuryConfig().databaseUrl)) return (await tx.group.count({ where: { id } })) > 0
  return (await tx.$queryRawUnsafe<unknown[]>(`SELECT 1 FROM "Group" WHERE "id" = $1 FOR UPDATE`, id)).length > 0
}

/** The caller's own user was deleted while their request ran: as their token is now, refused. */
export function userGone(): never {
  throw createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Invalid or revoked token' })
}
