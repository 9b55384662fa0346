// Any /api path without a handler: a JSON 404 rather than the app's HTML page.
export default defineEventHandler((event) => {
  throw createError({ statusCode: 404, statusMessage: 'Not Found', message: `No route ${event.method} ${event.path.split('?')[0]}` })
})
