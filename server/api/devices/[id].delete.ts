import { idParamSchema } from '#shared/schemas/accounts'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { id } = parseParams(event, idParamSchema)
  const { count } = await useDb().device.deleteMany({ where: { id, userId: user.id } })
  if (count === 0) notFound('Device')
  setResponseStatus(event, 204)
  return null
})
