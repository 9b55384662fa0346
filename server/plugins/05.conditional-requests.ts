// RFC 9110 §13.1.3: If-Modified-Since is ignored when the request has If-None-Match. Nitro's
// built files answered 304 on the date alone, so a release built before the one a browser holds
// (a rollback, builds with fixed file dates, another machine's clock) kept the browser on its old
// /sw.js for good: the update was never offered. The ETag decides, as the RFC says. If-None-Match
// compares weakly (§13.1.2): a weak tag, as a proxy that compresses passes on, counts as its
// strong form, the one Nitro compares with. A list of tags, or `*`, gets the whole file (200).
const WEAK_TAG = /^\s*W\/("[^"]*")\s*$/

export default defineNitroPlugin((nitro) => {
  nitro.hooks.hook('request', (event) => {
    const headers = event.node.req.headers
    const match = headers['if-none-match']
    if (match === undefined) return
    delete headers['if-modified-since']
    const weak = WEAK_TAG.exec(match)
    if (weak) headers['if-none-match'] = weak[1]
  })
})
