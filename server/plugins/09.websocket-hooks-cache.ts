// crossws 0.3, which Nitro bundles, looks up a WebSocket route's hooks again for every event of a
// connection: on /datalink, every publish frame parsed the URL, walked the router and waited on
// three more promises before reaching its handler. A connection's route never changes, so its
// hooks are looked up once and kept with its context (the object the upgrade creates and every
// later event of that connection carries), as crossws 0.4 does.
type Resolve = (info: object) => unknown

export default defineNitroPlugin((nitro) => {
  const options = nitro.h3App.websocket as { resolve?: Resolve }
  const resolve = options.resolve
  if (!resolve) return
  const cache = new WeakMap<object, unknown>()
  options.resolve = (info) => {
    const key = (info as { context?: object }).context ?? info
    if (cache.has(key)) return cache.get(key)
    const hooks = resolve(info)
    cache.set(key, hooks)
    if (hooks instanceof Promise) hooks.catch(() => cache.delete(key))
    return hooks
  }
})
