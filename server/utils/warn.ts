// Troubles that repeat (a Redis outage, a job failing again and again, a push endpoint refused
// each time it is tried) are logged at most once a minute each.

const warned = new Map<string, { at: number, since: number }>()
// Some troubles are named by what clients send (a push endpoint's host): the oldest are forgotten.
const WARNED_MAX = 1000

/**
 * Logs a trouble at most once a minute, saying how many were left out. BullMQ reports every failed
 * reconnection of every queue and worker while Redis is away (several lines a second, thousands an
 * hour), and a job that fails during an outage fails again every few seconds; the channel layer logs
 * the outage and its end once (services/realtime/redis-layer.ts). A push endpoint refused for what its name
 * resolves to is logged so too, per host (services/push/endpoint-guard.ts).
 */
export function warnAtMostEveryMinute(what: string, message: string): void {
  const now = Date.now()
  const last = warned.get(what)
  if (last && now - last.at < 60_000) {
    last.since++
    return
  }
  const more = last?.since ? ` (${last.since} more left out since the last)` : ''
  warned.delete(what)
  if (warned.size >= WARNED_MAX) warned.delete(warned.keys().next().value!)
  warned.set(what, { at: now, since: 0 })
  console.warn(`mercury: ${what}: ${message}${more}`)
}
