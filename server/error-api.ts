// Errors of the API (/api/**, /metrics) are JSON with the security headers every API answer has
// (utils/request-guards.ts): Nitro's default error answer replaced them with its own and echoed
// the requested host in `url`. A missing built file is a plain 404. A method a page's path does not
// take (405) is answered as the API's errors are. Anything else (the app's pages) goes on to Nuxt's
// error handler. A client that left while sending its body gets nothing.
const SOCKET_PATH = /^\/(channel|datalink)(\?|$)/

export default defineNitroErrorHandler(async (error, event, { defaultHandler }) => {
  // A client gone while sending its body (utils/validate.ts): no answer, no log line. Ending the
  // response marks the error handled, so that Nuxt's handler does not log it either.
  if (isClientClosed(error)) return void event.node.res.end()
  const status = (error as { statusCode?: number }).statusCode
  // A built file that is not there (an old release's chunk asked for after a deploy): a plain 404.
  // Nuxt's handler would answer a stylesheet or a script with a JSON error page, which the
  // browser then reports as a file of the wrong type instead of a missing one.
  if (status === 404 && isBuildAssetPath(event.path)) {
    const res = event.node.res
    res.statusCode = 404
    res.statusMessage = 'Not Found'
    res.setHeader('content-type', 'text/plain; charset=utf-8')
    res.setHeader('cache-control', 'no-cache')
    return send(event, 'Not Found')
  }
  // A method refused on a page's path (server/middleware/guards.ts) is answered as the API's, and
  // so is a plain request to a socket's path (426).
  const socket = SOCKET_PATH.test(event.path)
  if (!isApiPath(event.path) && !event.path.startsWith('/metrics') && !socket && status !== 405) return
  // Builds the body (hiding what an unhandled error says) and logs unhandled errors, as before.
  const answer = await defaultHandler(error, event, { json: true })
  const body = answer.body as Record<string, unknown>
  body.url = event.path
  if (socket && answer.status === 426) body.message = `${event.path.split('?', 1)[0]} is a WebSocket endpoint: connect with a WebSocket client (see docs/PROTOCOL.md)`
  const res = event.node.res
  res.statusCode = answer.status
  if (answer.statusText) res.statusMessage = answer.statusText
  res.setHeader('content-type', 'application/json')
  if (answer.status === 404 || !res.hasHeader('cache-control')) res.setHeader('cache-control', 'no-cache')
  return send(event, errorJson(body))
})
