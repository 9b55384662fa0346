// RFC 9110 §13.1.3: If-Modified-Since is ignored when the request has If-None-Match. Nitro's
// built files answered 304 on the date alone, so a release built before the one a browser holds
// (a rollback, builds with fixed file dates, another machine's clock) kept the browser on its old
// /sw.js for good: the update was never offered. The ETag decides, as the RFC says.
export default defineNitroPlugin((nitro) => {
  nitro.hooks.hook('request', (event) => {
    const headers = event.node.req.headers
    if (headers['if-none-match'] !== undefined) delete headers['if-modified-since']
  })
})
