import { ApiClient } from './client'
import type { TestPushService } from './push-service'

/** Creates an active source allowed to publish to `topics`; returns it with its token. */
export async function createActiveSource(admin: ApiClient, name: string, topics: string | string[] = '*') {
  const created = await admin.post('/api/admin/sources', { name, topics })
  if (created.status !== 201) throw new Error(`source: ${created.status} ${JSON.stringify(created.body)}`)
  const activated = await admin.post(`/api/admin/sources/${created.body.source.id}/activate`)
  if (activated.status !== 200) throw new Error(`activate: ${activated.status} ${JSON.stringify(activated.body)}`)
  return { id: created.body.source.id as string, token: created.body.token as string }
}

/** Creates a user with a read grant on `pattern`; returns a logged-in client and a token. */
export async function createReader(admin: ApiClient, username: string, pattern: string | null) {
  const created = await admin.post('/api/admin/users', { username, password: 'reader-password' })
  if (created.status !== 201) throw new Error(`user: ${created.status} ${JSON.stringify(created.body)}`)
  if (pattern) {
    const grant = await admin.post('/api/admin/grants', { userId: created.body.id, topic: pattern, read: true })
    if (grant.status !== 201) throw new Error(`grant: ${grant.status} ${JSON.stringify(grant.body)}`)
  }
  const client = new ApiClient(admin.baseUrl)
  const login = await client.login(username, 'reader-password')
  return { client, token: login.body.token as string, id: created.body.id as string }
}

/**
 * A reader of `pattern` subscribed to `topic` with push on, with one device per name: a
 * subscription of the test push service by that name. Returns the reader and its device ids.
 */
export async function createPushReader(admin: ApiClient, push: TestPushService, username: string, pattern: string, topic: string, deviceNames: string[]) {
  const reader = await createReader(admin, username, pattern)
  await reader.client.post('/api/subscriptions', { topic, push: true })
  const devices: string[] = []
  for (const name of deviceNames) {
    const res = await reader.client.post('/api/devices', { subscription: push.subscribe(name).subscription, name })
    if (res.status !== 201) throw new Error(`device: ${res.status} ${JSON.stringify(res.body)}`)
    devices.push(res.body.id as string)
  }
  return { ...reader, devices }
}

export function publisher(baseUrl: string, sourceToken: string) {
  const client = new ApiClient(baseUrl)
  client.token = sourceToken
  return client
}
