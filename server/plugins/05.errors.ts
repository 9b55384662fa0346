import { STATUS_CODES } from 'node:http'
import type { H3Error } from 'h3'
import { isLayerUnavailable } from '../services/realtime/layer'

// Runs before the error handler renders the answer: a client error gets its reason phrase, a
// database or channel layer (Redis) that cannot answer becomes a 503 with Retry-After, not a 500,
// and the server recovers by itself once it is back, and a write that lost a race no route
// foresaw becomes the 404 or 409 it is (docs/API.md: never a 500 for a client's request).
export default defineNitroPlugin((nitro) => {
  nitro.hooks.hook('error', (error, { event }) => {
    if (!event) return
    const answer = error as H3Error
    // A refusal made with only a status code (createError({ statusCode: 403, message })) would go
    // out as "403 Server Error": give it its standard reason phrase.
    if (!answer.statusMessage && answer.statusCode >= 400 && answer.statusCode < 500) {
      answer.statusMessage = STATUS_CODES[answer.statusCode] ?? 'Client Error'
    }
    const unavailable = isDatabaseUnavailable(error) ? 'database' : isLayerUnavailable(error) ? 'channel layer' : null
    const raced = unavailable ? null : concurrentChange(error)
    if (raced && answer.unhandled !== false) {
      // Logged all the same: the route it came from should handle its race itself.
      console.warn(`mercury: ${event.method} ${event.path}: ${raced.statusCode} for a concurrent change:`, (error as Error).message)
      answer.statusCode = raced.statusCode
      answer.statusMessage = STATUS_CODES[raced.statusCode]!
      answer.message = raced.message
      answer.unhandled = false
      return
    }
    if (!unavailable) return
    answer.statusCode = 503
    answer.statusMessage = 'Service Unavailable'
    answer.message = `The ${unavailable} is unavailable; retry shortly`
    answer.unhandled = false
    setResponseHeader(event, 'retry-after', 5)
  })
})
