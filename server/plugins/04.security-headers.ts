// The security headers on every answer (utils/request-guards.ts). Nitro serves built files
// (/sw.js, /_nuxt/…, icons, the web manifest) and their 404s before any middleware runs: the
// request hook runs before it.
export default defineNitroPlugin((nitro) => {
  nitro.hooks.hook('request', setSecurityHeaders)
})
