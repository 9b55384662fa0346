import type { H3Event } from 'h3'
import publish from '../api/topics/[topic]/messages.post'

// POST /api/topics/:topic/messages is what producers call hundreds of times a second. Through
// the whole of Nitro it pays about as much for the framework (hooks, route rules, router, a
// deferred send) as for the publish itself. Here it goes straight from the Node listener to the
// same guards and the same route handler, and its answer is written at once. Everything else
// (including any other form of this path, say with a trailing slash) takes the usual way; errors
// go through the app's error handler as they would there.
const PUBLISH = /^\/api\/topics\/([^/?#]+)\/messages(?:\?|$)/

export default defineNitroPlugin((nitro) => {
  const app = nitro.h3App
  const handle = app.handler
  app.handler = (event: H3Event) => {
    const match = event.method === 'POST' ? PUBLISH.exec(event.path) : null
    return match ? publishNow(event, match[1]!) : handle(event)
  }
})

async function publishNow(event: H3Event, topic: string): Promise<void> {
  event.context.nitro ??= { errors: [] }
  // As the router would give them: still encoded (parseParams decodes).
  event.context.params = { topic }
  // What plugins/04.security-headers.ts and server/middleware/guards.ts do for every other route.
  setSecurityHeaders(event)
  guardRequest(event)
  const body = JSON.stringify(await publish(event))
  const res = event.node.res
  res.setHeader('content-type', 'application/json')
  // With its length known, Node writes the head and the body as one buffer; without it, a chunked
  // body in five pieces.
  res.setHeader('content-length', Buffer.byteLength(body))
  res.end(body)
}
