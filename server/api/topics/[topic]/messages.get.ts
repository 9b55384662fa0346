import { z } from 'zod'
import { historyQuerySchema, topicSchema } from '#shared/schemas/messages'
import { canRead, effectivePermissions } from '../../../services/permissions'
import { useChannelLayer } from '../../../services/realtime'

const paramsSchema = z.object({ topic: topicSchema })

// The topic's retained history after `since`, for users allowed to read it.
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { topic } = parseParams(event, paramsSchema)
  const { since, limit } = parseQuery(event, historyQuerySchema)
  if (!canRead(await effectivePermissions(user.id), topic)) {
    throw createError({ statusCode: 403, statusMessage: 'Forbidden', message: `No read access to "${topic}"` })
  }
  const history = await useChannelLayer().history(topic, since, limit)
  setResponseHeader(event, 'content-type', 'application/json')
  // The frames are stored serialized: join them rather than parse and serialize again.
  return `{"topic":${JSON.stringify(topic)},"offset":${history.lastOffset},"recovered":${history.recovered},"messages":[${history.entries.map(e => e.frame).join(',')}]}`
})
