import { useDb } from '../utils/db'
import { notFound } from '../utils/validate'

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
