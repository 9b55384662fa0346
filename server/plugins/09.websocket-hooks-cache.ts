// crossws 0.3, which Nitro bundles, looks up a WebSocket route's hooks again for every event of a
// connection: on /datalink, every publish frame parsed the URL, walked the router and waited on
// three more promises before reaching its handler. A connection's route never changes, so its
// hooks are looked up once and kept with its context (the object the upgrade creates and every
// later event of that connection carries), as crossws 0.4 does.
//
// A path with no WebSocket route (`/`, `/CHANNEL` …) resolves to no hooks at all, which crossws
// takes as "accept": an anonymous socket nothing reads, pings or counts. Such upgrades get 404.
// A worker process (MERCURY_ROLE=worker) takes no connection at all: 503, as its HTTP answers.
type Hooks = Record<string, unknown>
type Resolve = (info: object) => Hooks | Promise<Hooks>

const NO_ROUTE: Hooks = {
  upgrade: () => rejectUpgrade(404, 'No WebSocket endpoint at this path: producers use /datalink, users /channel'),
}

const WORKER: Hooks = {
  upgrade: () => rejectUpgrade(503, 'This is a worker process (MERCURY_ROLE=worker): it serves no connections'),
}

function routed(hooks: Hooks | undefined): Hooks {
  return hooks && Object.keys(hooks).length > 0 ? hooks : NO_ROUTE
}

export default defineNitroPlugin((nitro) => {
  const options = nitro.h3App.websocket as { resolve?: Resolve }
  const resolve = options.resolve
  if (!resolve) return
  const cache = new WeakMap<object, Hooks | Promise<Hooks>>()
  options.resolve = (info) => {
    if (mercuryConfig().role === 'worker') return WORKER
    const key = (info as { context?: object }).context ?? info
    const cached = cache.get(key)
    if (cached) return cached
    const found = resolve(info)
    const hooks = found instanceof Promise ? found.then(routed) : routed(found)
    cache.set(key, hooks)
    if (hooks instanceof Promise) hooks.catch(() => cache.delete(key))
    return hooks
  }
})
