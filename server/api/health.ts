import { startupReady } from '../services/bootstrap'
import { useChannelLayer } from '../services/realtime'

// For load balancers and supervisors: 200 while the database answers. The channel layer (Redis)
// is reported, not judged: while it is away every instance is without it alike, and REST (inbox,
// admin, reads) still works; a load balancer taking them all out would only make it worse.
// HEAD too: load balancers often check with it (Node sends the head without the body).
export default defineEventHandler(async (event) => {
  if (event.method !== 'GET' && event.method !== 'HEAD') {
    setResponseHeader(event, 'allow', 'GET, HEAD')
    throw createError({ statusCode: 405, statusMessage: 'Method Not Allowed', message: 'GET or HEAD /api/health' })
  }
  const channelLayer = mercuryConfig().role === 'worker' ? undefined : useChannelLayer().healthy() ? 'up' : 'down'
  try {
    await startupReady()
    await useDb().$queryRawUnsafe('SELECT 1')
  }
  catch {
    setResponseStatus(event, 503)
    setResponseHeader(event, 'retry-after', 5)
    return { status: 'unavailable', database: 'down', ...(channelLayer ? { channelLayer } : {}) }
  }
  return { status: 'ok', database: 'up', ...(channelLayer ? { channelLayer } : {}), uptime: Math.round(process.uptime()) }
})
