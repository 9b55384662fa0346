import { useDb } from '../utils/db'
import { notFound } from '../utils/validate'
import { isMissingReference, isMissingRow, isUniqueViolation } from './accounts'

export async function requireGroupAndUser(groupId: string, userId: string): Promise<void> {
  const db = useDb()
  const [group, user] = await Promise.all([
    db.group.findUnique({ where: { id: groupId }, select: { id: true } }),
    db.user.findUnique({ where: { id: userId }, select: { id: true } }),
  ])
  if (!group) notFound('Group')
  if (!user) notFound('User')
}

export async function removeMember(groupId: string, userId: string): Promise<void> {
  await requireGroupAndUser(groupId, userId)
  const { count } = await useDb().membership.deleteMany({ where: { groupId, userId } })
  if (count === 0) notFound('Membership')
}

/**
 * Adds the user to the group; adding a member again changes nothing. The same member added twice
 * at once answers as a repeated add does (the upsert of both may try the insert: the loser reads
 * the winner's row), and a group or user deleted meanwhile is not found, as it would be after.
 */
export async function addMember(groupId: string, userId: string) {
  await requireGroupAndUser(groupId, userId)
  const key = { userId_groupId: { userId, groupId } }
  try {
    return await useDb().membership.upsert({ where: key, create: { userId, groupId }, update: {} })
  }
  catch (error) {
    if (isUniqueViolation(error)) {
      const membership = await useDb().membership.findUnique({ where: key })
      if (membership) return membership
    }
    // The group or user went: a foreign key refused, or the membership read by the upsert went
    // with them before it could be updated.
    if (isUniqueViolation(error) || isMissingReference(error) || isMissingRow(error)) await requireGroupAndUser(groupId, userId)
    throw error
  }
}
