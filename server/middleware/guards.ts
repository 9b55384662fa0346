// The cross-site request guard and the worker-role guard (utils/request-guards.ts), and the
// methods paths outside /api take; the security headers are already set (plugins/04.security-headers.ts).
export default defineEventHandler((event) => {
  guardRequest(event)
  // Pages, built files, /metrics and the sockets' upgrades are read, never written to: any other
  // method went on to the app's shell and got its HTML with a 200. OPTIONS stays as it was.
  if (!isApiPath(event.path) && !PAGE_METHODS.has(event.method)) {
    setResponseHeader(event, 'allow', 'GET, HEAD')
    throw createError({ statusCode: 405, statusMessage: 'Method Not Allowed', message: `${event.method} is not allowed here: only GET and HEAD` })
  }
  // The directories of built files (/_nuxt/, /_nuxt/builds/) fell through to the app's shell, then
  // cached for a year (the route rule of built files): they are a missing built file's 404 too.
  if (isBuildAssetPath(event.path)) throw createError({ statusCode: 404, statusMessage: 'Not Found' })
})

const PAGE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
