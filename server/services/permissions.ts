import { topicMatchesAny } from '#shared/utils/topics'
import { useDb } from '../utils/db'

export interface Permissions {
  /** Admins may read every topic. */
  admin: boolean
  read: string[]
  publish: string[]
}

/** The topic patterns a user may read and publish, from their own grants and their groups'. */
export async function effectivePermissions(userId: string): Promise<Permissions> {
  const db = useDb()
  const [user, grants] = await Promise.all([
    db.user.findUnique({ where: { id: userId }, select: { role: true } }),
    db.grant.findMany({
      where: { OR: [{ userId }, { group: { memberships: { some: { userId } } } }] },
      select: { topic: true, read: true, publish: true },
    }),
  ])
  const unique = (list: string[]) => [...new Set(list)].sort()
  return {
    admin: user?.role === 'admin',
    read: unique(grants.filter(g => g.read).map(g => g.topic)),
    publish: unique(grants.filter(g => g.publish).map(g => g.topic)),
  }
}

export function canRead(permissions: Permissions, topic: string): boolean {
  return permissions.admin || topicMatchesAny(permissions.read, topic)
}

export function canPublish(permissions: Permissions, topic: string): boolean {
  return topicMatchesAny(permissions.publish, topic)
}
