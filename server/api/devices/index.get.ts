import { deviceSelect } from '../../services/devices'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  return useDb().device.findMany({ where: { userId: user.id }, select: deviceSelect, orderBy: { createdAt: 'desc' } })
})
