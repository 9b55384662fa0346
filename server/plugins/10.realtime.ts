import { mercuryConfig } from '../utils/config'
import { closeRealtime, useChannelLayer, useHub } from '../services/realtime'
import { flushCounters } from '../services/sources'
import { handleControl } from '../services/control'

export default defineNitroPlugin((nitro) => {
  const config = mercuryConfig()
  const hub = useHub()
  useChannelLayer().onControl((event) => {
    handleControl(event).catch((error: unknown) => {
      console.error(`mercury: control event ${event.type} failed:`, error)
    })
  })
  const heartbeat = setInterval(() => hub.heartbeat(), config.heartbeatSeconds * 1000)
  heartbeat.unref()
  const counters = setInterval(() => {
    flushCounters().catch((error: unknown) => console.warn('mercury: could not write counters:', (error as Error).message))
  }, 2000)
  counters.unref()
  nitro.hooks.hook('close', async () => {
    clearInterval(heartbeat)
    clearInterval(counters)
    await flushCounters().catch(() => {})
    await closeRealtime()
  })
})
