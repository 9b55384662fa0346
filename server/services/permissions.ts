import { topicMatchesAny } from '#shared/utils/topics'
import { queryRaw } from '../utils/db'

export interface Permissions {
  /** Admins may read every topic. */
  admin: boolean
  read: string[]
  publish: string[]
}

/**
 * The topic patterns a user may read and publish, from their own grants and their groups'. One
 * raw statement (see queryRaw): it runs on every connection and on most requests.
 */
export async function effectivePermissions(userId: string): Promise<Permissions> {
  const rows = await queryRaw<{ kind: 'role' | 'read' | 'publish', value: string }>((sql) => {
    const user = sql.param(userId)
    const groupGrants = `FROM "Grant" g JOIN "Membership" m ON m."groupId" = g."groupId" WHERE m."userId" = ${user}`
    return `SELECT 'role' AS "kind", u."role" AS "value" FROM "User" u WHERE u."id" = ${user} `
      + `UNION ALL SELECT 'read', g."topic" FROM "Grant" g WHERE g."userId" = ${user} AND g."read" = true `
      + `UNION ALL SELECT 'publish', g."topic" FROM "Grant" g WHERE g."userId" = ${user} AND g."publish" = true `
      + `UNION ALL SELECT 'read', g."topic" ${groupGrants} AND g."read" = true `
      + `UNION ALL SELECT 'publish', g."topic" ${groupGrants} AND g."publish" = true`
  })
  const patterns = (kind: 'read' | 'publish') => [...new Set(rows.filter(r => r.kind === kind).map(r => r.value))].sort()
  return {
    admin: rows.some(r => r.kind === 'role' && r.value === 'admin'),
    read: patterns('read'),
    publish: patterns('publish'),
  }
}

export function canRead(permissions: Permissions, topic: string): boolean {
  return permissions.admin || topicMatchesAny(permissions.read, topic)
}

export function canPublish(permissions: Permissions, topic: string): boolean {
  return topicMatchesAny(permissions.publish, topic)
}
