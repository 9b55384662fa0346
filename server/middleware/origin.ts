// Cross-site request forgery guard: a state-changing request that relies on the session cookie
// must come from this site. Requests with a bearer token carry no ambient credentials.
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

export default defineEventHandler((event) => {
  if (SAFE.has(event.method) || !event.path.startsWith('/api/')) return
  if (bearerToken(event)) return
  const origin = getRequestHeader(event, 'origin')
  const crossSite = getRequestHeader(event, 'sec-fetch-site') === 'cross-site'
  if ((origin && !originAllowed(origin, requestHost(event))) || (crossSite && !origin)) {
    throw createError({ statusCode: 403, statusMessage: 'Forbidden', message: `Requests from ${origin ?? 'another site'} may not use this session` })
  }
})
