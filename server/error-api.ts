// Errors of the API (/api/**, /metrics) are JSON with the security headers every API answer has
// (utils/request-guards.ts): Nitro's default error answer replaced them with its own and echoed
// the requested host in `url`. Anything else (the app's pages) goes on to Nuxt's error handler.
export default defineNitroErrorHandler(async (error, event, { defaultHandler }) => {
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
