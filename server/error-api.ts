// Errors of the API (/api/**, /metrics) are JSON with the security headers every API answer has
// (utils/request-guards.ts): Nitro's default error answer replaced them with its own and echoed
// the requested host in `url`. A missing built file is a plain 404. Anything else (the app's
// pages) goes on to Nuxt's error handler.
export default defineNitroErrorHandler(async (error, event, { defaultHandler }) => {
  // A built file that is not there (an old release's chunk asked for after a deploy): a plain 404.
  // Nuxt's handler would answer a stylesheet or a script with a JSON error page, which the
  // browser then reports as a file of the wrong type instead of a missing one.
  if (event.path.startsWith(useRuntimeConfig(event).app.buildAssetsDir) && (error as { statusCode?: number }).statusCode === 404) {
    const res = event.node.res
    res.statusCode = 404
    res.statusMessage = 'Not Found'
    res.setHeader('content-type', 'text/plain; charset=utf-8')
    res.setHeader('cache-control', 'no-cache')
    return send(event, 'Not Found')
  }
  if (!isApiPath(event.path) && !event.path.startsWith('/metrics')) return
  // Builds the body (hiding what an unhandled error says) and logs unhandled errors, as before.
  const answer = await defaultHandler(error, event, { json: true })
  const body = answer.body as Record<string, unknown>
  body.url = event.path
  const res = event.node.res
  res.statusCode = answer.status
  if (answer.statusText) res.statusMessage = answer.statusText
  res.setHeader('content-type', 'application/json')
  if (answer.status === 404 || !res.hasHeader('cache-control')) res.setHeader('cache-control', 'no-cache')
  return send(event, JSON.stringify(body))
})
