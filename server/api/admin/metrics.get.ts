import { useChannelLayer, useHub } from '../../services/realtime'
import { queueDepths } from '../../services/queue'

// Live figures of this instance (the admin dashboard polls nothing: it gets them pushed later on).
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  return {
    instance: { pid: process.pid, uptime: Math.round(process.uptime()), memory: process.memoryUsage().rss },
    layer: { kind: useChannelLayer().kind, healthy: useChannelLayer().healthy() },
    hub: useHub().stats(),
    queues: await queueDepths(),
  }
})
