import { onPublished } from '../services/ingest'
import { prometheusRegistry, pushMetrics, recordPublished } from '../services/admin-metrics'

// Counts what is published through this instance and pushes the figures to its admin views.
export default defineNitroPlugin((nitro) => {
  prometheusRegistry()
  onPublished(recordPublished)
  const timer = setInterval(() => {
    try {
      pushMetrics()
    }
    catch (error) {
      console.warn('mercury: could not push admin metrics:', (error as Error).message)
    }
  }, 1000)
  timer.unref()
  nitro.hooks.hook('close', () => clearInterval(timer))
})
