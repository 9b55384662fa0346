import type { H3Event } from 'h3'
import type { Role } from '#shared/schemas/accounts'
import { LOGIN_TOKEN_NAME, loginLapseCutoff } from '../services/accounts'
import type { RawStatement } from './db'

export interface AuthUser {
  id: string
  username: string
  role: Role
  /** The personal access token that authenticated this request, if any. */
  tokenId?: string
}

/** Read raw (see queryRaw): these run on every request and connection. */
interface UserRow {
  id: string
  username: string
  role: string
}

const BEARER_RE = /^Bearer\s+(\S+)$/i

export function bearerToken(event: H3Event): string | null {
  return bearerOf(getRequestHeader(event, 'authorization'))
}

/** The token of an `Authorization: Bearer …` header, or null (none, or another scheme). */
export function bearerOf(header: string | null | undefined): string | null {
  return header ? BEARER_RE.exec(header)?.[1] ?? null : null
}

/** The user behind a personal access token, or null (unknown, revoked, or a login that lapsed). */
export async function userFromToken(token: string): Promise<AuthUser | null> {
  if (!token.startsWith('mpat_')) return null
  const [row] = await queryRaw<UserRow & { tokenId: string, lastUsedAt: Date | null }>(sql =>
    `SELECT t."id" AS "tokenId", t."lastUsedAt", u."id", u."username", u."role" FROM "AccessToken" t `
    + `JOIN "User" u ON u."id" = t."userId" WHERE t."tokenHash" = ${sql.param(hashToken(token))} AND ${notLapsed(sql)}`)
  if (!row) return null
  touchToken(row.tokenId, row.lastUsedAt)
  return { id: row.id, username: row.username, role: row.role as Role, tokenId: row.tokenId }
}

/**
 * The condition on the token `t` that it has not lapsed (see loginLapseCutoff). The worker sweep
 * deletes lapsed logins only every minute: until then they are refused here.
 */
function notLapsed(sql: RawStatement): string {
  return `(t."name" <> ${sql.param(LOGIN_TOKEN_NAME)} OR COALESCE(t."lastUsedAt", t."createdAt") >= ${sql.timestamp(loginLapseCutoff())})`
}

// lastUsedAt says when a token was last used and keeps a login from lapsing: write it at most once
// a minute per token, off the request path.
function touchToken(id: string, lastUsedAt: Date | null) {
  if (lastUsedAt && Date.now() - lastUsedAt.getTime() < 60_000) return
  useDb().accessToken.update({ where: { id }, data: { lastUsedAt: new Date() } }).catch(() => {})
}

/**
 * The user of a session cookie, as long as the login token it was issued with exists and has not
 * lapsed: a logout, a new password or the user's deletion ends the session, including every copy
 * of the cookie (the cookie itself is sealed, not stored, so it cannot be revoked any other way).
 * Using the session is using its login: it keeps the login from lapsing.
 */
export async function userFromSession(userId: string | undefined, tokenId: string | undefined): Promise<AuthUser | null> {
  if (!userId || !tokenId) return null
  const [row] = await queryRaw<UserRow & { lastUsedAt: Date | null }>(sql =>
    `SELECT t."lastUsedAt", u."id", u."username", u."role" FROM "AccessToken" t JOIN "User" u ON u."id" = t."userId" `
    + `WHERE t."id" = ${sql.param(tokenId)} AND t."userId" = ${sql.param(userId)} AND ${notLapsed(sql)}`)
  if (!row) return null
  touchToken(tokenId, row.lastUsedAt)
  return { id: row.id, username: row.username, role: row.role as Role, tokenId }
}

/**
 * Who is calling: a personal access token (`Authorization: Bearer mpat_…`) or the session cookie.
 * The user is read from the database each time, so a deleted user, a changed role or an ended session
 * counts at once.
 */
export async function authenticate(event: H3Event): Promise<AuthUser | null> {
  if (event.context.authUser !== undefined) return event.context.authUser
  let user: AuthUser | null
  const token = bearerToken(event)
  if (token) {
    user = await userFromToken(token)
    if (!user) throw createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Invalid or revoked token' })
  }
  else if (hasSessionCookie(getRequestHeader(event, 'cookie'))) {
    const session = await getUserSession(event)
    user = await userFromSession(session.user?.id, session.tokenId)
    if (user) await renewSession(event)
  }
  else {
    // No cookie, no session: reading one would seal an empty session and send it as a cookie.
    user = null
  }
  event.context.authUser = user
  return user
}

export async function requireUser(event: H3Event): Promise<AuthUser> {
  const user = await authenticate(event)
  if (!user) throw createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Log in or send a personal access token' })
  return user
}

export async function requireAdmin(event: H3Event): Promise<AuthUser> {
  const user = await requireUser(event)
  if (user.role !== 'admin') throw createError({ statusCode: 403, statusMessage: 'Forbidden', message: 'Only admins may do this' })
  return user
}

declare module 'h3' {
  interface H3EventContext {
    authUser?: AuthUser | null
  }
}

/** Whether the request came over TLS (directly, or through a proxy trusted by MERCURY_TRUST_PROXY=1). */
export function isSecureRequest(event: H3Event): boolean {
  return getRequestProtocol(event, { xForwardedProto: mercuryConfig().trustProxy }) === 'https'
}
