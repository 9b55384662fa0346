import { z } from 'zod'
import { topicSchema } from '#shared/schemas/messages'
import { announce } from '../../services/control'

const paramsSchema = z.object({ topic: topicSchema })

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { topic } = parseParams(event, paramsSchema)
  const { count } = await useDb().subscription.deleteMany({ where: { userId: user.id, topic } })
  if (count === 0) notFound('Subscription')
  await announce({ type: 'subscription.changed', userId: user.id, topic, subscribed: false })
  setResponseStatus(event, 204)
  return null
})
