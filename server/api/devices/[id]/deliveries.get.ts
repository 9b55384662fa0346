import { z } from 'zod'
import { idParamSchema } from '#shared/schemas/accounts'
import { queryIntSchema } from '#shared/schemas/dates'
import { deliverySelect, toDelivery } from '../../../services/devices'

const querySchema = z.object({ limit: queryIntSchema(1, 500).default(50) })

// The newest deliveries to one of the user's devices, each with its attempts.
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { id } = parseParams(event, idParamSchema)
  const { limit } = parseQuery(event, querySchema)
  const device = await useDb().device.findFirst({ where: { id, userId: user.id }, select: { id: true } })
  if (!device) notFound('Device')
  const rows = await useDb().delivery.findMany({ where: { deviceId: id }, select: deliverySelect, orderBy: { createdAt: 'desc' }, take: limit })
  return rows.map(toDelivery)
})
