import type { H3Error } from 'h3'

// Runs before the error handler renders the answer: a database that cannot answer becomes a 503
// with Retry-After, not a 500, and the server recovers by itself once the database is back.
export default defineNitroPlugin((nitro) => {
  nitro.hooks.hook('error', (error, { event }) => {
    if (!event || !isDatabaseUnavailable(error)) return
    const h3 = error as H3Error
    h3.statusCode = 503
    h3.statusMessage = 'Service Unavailable'
    h3.message = 'The database is unavailable; retry shortly'
    h3.unhandled = false
    setResponseHeader(event, 'retry-after', 5)
  })
})
