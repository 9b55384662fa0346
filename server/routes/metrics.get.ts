import { metricsToken, prometheusRegistry, sameSecret } from '../services/admin-metrics'

// Prometheus scrape endpoint: off (404) unless MERCURY_METRICS_TOKEN is set, then bearer-only.
export default defineEventHandler(async (event) => {
  const expected = metricsToken()
  if (!expected) throw createError({ statusCode: 404, statusMessage: 'Not Found', message: 'Metrics are not enabled' })
  const given = bearerToken(event)
  if (!given || !sameSecret(given, expected)) {
    setResponseHeader(event, 'www-authenticate', 'Bearer')
    throw createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Send Authorization: Bearer <MERCURY_METRICS_TOKEN>' })
  }
  const registry = prometheusRegistry()
  setResponseHeader(event, 'content-type', registry.contentType)
  return registry.metrics()
})
