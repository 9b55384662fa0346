import { useDb } from '../utils/db'
import { notFound } from '../utils/validate'

export async function deleteGrant(id: string): Promise<void> {
  const { count } = await useDb().grant.deleteMany({ where: { id } })
  if (count === 0) notFound('Grant')
}
