// Demo content for screenshots and the audit: a built server with an admin who follows a few
// topics, some notifications (some read), from a source. Used by screenshots.mjs and audit.mjs.
import { ADMIN_PASSWORD, startServer } from '../tests/helpers/server.ts'

export async function api(server, cookie, method, path, body, headers = {}) {
  const res = await fetch(server.url + path, {
    method,
    headers: { ...(cookie ? { cookie } : {}), ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null }
}

export const notifications = [
  ['alerts.disk', 'Disk almost full on db-1', 'sda1 is at 97 %. Oldest WAL segments can be archived.', 5],
  ['deploys.web', 'Deploy #482 finished', 'web 2.14.0 is live in eu-west; 0 errors in the first minute.', 3],
  ['alerts.cpu', 'CPU back to normal on api-3', 'Load average 0.8 after the cache warm-up.', 3],
  ['billing.invoices', 'Invoice INV-2026-118 paid', 'ACME Corp paid 1,240.00 EUR by bank transfer.', 2],
  ['deploys.web', 'Deploy #481 rolled back', 'Health checks failed on 2 of 6 pods; previous version restored.', 4],
  ['sensors.room1', 'Room 1 is warm', '26.4 °C, humidity 41 %.', 3],
  ['alerts.disk', 'Backup completed', 'Nightly backup of 38 GB finished in 14 minutes.', 2],
]

/** Starts a server and fills it; returns it with the admin's session cookie and a publish function. */
export async function demoServer() {
  const server = await startServer()
  const login = await api(server, '', 'POST', '/api/auth/login', { username: 'admin', password: ADMIN_PASSWORD })
  const cookie = login.headers.getSetCookie().find(c => c.startsWith('mercury-session=')).split(';')[0]
  const created = await api(server, cookie, 'POST', '/api/admin/sources', { name: 'demo', topics: '*' })
  await api(server, cookie, 'POST', `/api/admin/sources/${created.body.source.id}/activate`)
  const token = created.body.token
  for (const topic of ['alerts.disk', 'alerts.cpu', 'deploys.web', 'billing.invoices']) {
    await api(server, cookie, 'POST', '/api/subscriptions', { topic, push: topic.startsWith('alerts') })
  }
  const publish = (topic, body) => api(server, '', 'POST', `/api/topics/${topic}/messages`, body, { authorization: `Bearer ${token}` })
  const ids = []
  for (const [topic, title, body, priority] of [...notifications].reverse()) {
    ids.push((await publish(topic, { event: 'notice', notification: { title, body, priority } })).body.id)
  }
  await api(server, cookie, 'POST', '/api/inbox/read', { ids: ids.slice(0, 3) })
  return { server, cookie, publish, password: ADMIN_PASSWORD }
}
