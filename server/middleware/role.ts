// A worker process (MERCURY_ROLE=worker) serves only its health check.
export default defineEventHandler((event) => {
  if (mercuryConfig().role !== 'worker') return
  if (event.path.startsWith('/api/health')) return
  throw createError({ statusCode: 503, statusMessage: 'Service Unavailable', message: 'This is a worker process (MERCURY_ROLE=worker): it serves no requests' })
})
