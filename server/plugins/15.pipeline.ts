import { mercuryConfig } from '../utils/config'
import { closeQueues } from '../services/queue'
import { flushResults, queueNotificationsForPush, startWorkers, stopPushEncryption } from '../services/workers'

export default defineNitroPlugin((nitro) => {
  const { role, redisUrl } = mercuryConfig()
  if (role !== 'worker') queueNotificationsForPush()
  if (role === 'web' && !redisUrl) {
    console.warn('mercury: MERCURY_ROLE=web without REDIS_URL: nothing will deliver pushes (the in-process queue needs role all)')
  }
  const stopSweeping = role === 'web' ? () => {} : startWorkers()
  nitro.hooks.hook('close', async () => {
    stopSweeping()
    await closeQueues()
    await flushResults()
    await stopPushEncryption()
  })
})
