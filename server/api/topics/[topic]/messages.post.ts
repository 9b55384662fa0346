import { z } from 'zod'
import { topicSchema } from '#shared/schemas/messages'
import { publishMessage, PublishError } from '../../../services/ingest'
import { httpPublisher, publishErrorToHttp, readPublishBody } from '../../../services/publish-http'

const paramsSchema = z.object({ topic: topicSchema })

export default defineEventHandler(async (event) => {
  const publisher = await httpPublisher(event)
  const { topic } = parseParams(event, paramsSchema)
  const input = await readPublishBody(event, topic)
  try {
    const published = await publishMessage(publisher, topic, input)
    setResponseStatus(event, 201)
    return published
  }
  catch (error) {
    if (error instanceof PublishError) throw publishErrorToHttp(event, error)
    throw error
  }
})
