import { idParamSchema } from '#shared/schemas/accounts'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { id } = parseParams(event, idParamSchema)
  const { count } = await useDb().accessToken.deleteMany({ where: { id, userId: user.id } })
  if (count === 0) notFound('Token')
  setResponseStatus(event, 204)
  return null
})
