import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, createTestDatabase, startServer, type TestDatabase } from '../helpers/server'
import { ApiClient } from '../helpers/client'

// Start-up: settings that cannot work stop the server with a message (no stack trace), and the
// admin password reset of the README ends the admin's sessions.
let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase()
})

afterAll(async () => {
  await db?.drop()
})

describe('start-up', () => {
  it.each([
    [{ MERCURY_ROLE: 'foo' }, 'MERCURY_ROLE must be all, web or worker, got "foo"'],
    [{ MERCURY_HEARTBEAT_SECONDS: '0' }, 'MERCURY_HEARTBEAT_SECONDS must be a positive integer, got "0"'],
    [{ NUXT_VAPID_SUBJECT: 'admin@example.com' }, 'NUXT_VAPID_SUBJECT must be a mailto: or https: URL'],
    [{ NUXT_VAPID_PUBLIC_KEY: 'abc', NUXT_VAPID_PRIVATE_KEY: 'def' }, 'NUXT_VAPID_PUBLIC_KEY must be a P-256 public key'],
    [{ NUXT_VAPID_PRIVATE_KEY: 'def' }, 'NUXT_VAPID_PUBLIC_KEY and NUXT_VAPID_PRIVATE_KEY go together'],
    [{ NUXT_SESSION_PASSWORD: 'short' }, 'NUXT_SESSION_PASSWORD must be at least 32 characters'],
    [{ MERCURY_ADMIN_PASSWORD: 'a' }, 'MERCURY_ADMIN_PASSWORD must be at least 8 characters'],
    [{ MERCURY_RESET_ADMIN_PASSWORD: 'short' }, 'MERCURY_RESET_ADMIN_PASSWORD must be at least 8 characters'],
  ])('refuses to start with %o, saying why', async (env, message) => {
    const failed = await startServer({ db, env }).then(() => null, (error: Error) => error.message)
    expect(failed).toMatch(/server exited with 1/)
    expect(failed).toContain(`Mercury: ${message}`)
    expect(failed).not.toMatch(/\n\s+at /) // no stack trace
  })

  it('resets the admin password from MERCURY_RESET_ADMIN_PASSWORD and ends the admin\'s sessions', async () => {
    const first = await startServer({ db })
    const admin = new ApiClient(first.url)
    await admin.login('admin', ADMIN_PASSWORD)
    const token = new ApiClient(first.url)
    token.token = (await new ApiClient(first.url).login('admin', ADMIN_PASSWORD)).body.token
    const pat = new ApiClient(first.url)
    pat.token = (await admin.post('/api/me/tokens', { name: 'script' })).body.token
    await first.stop()

    const second = await startServer({ db, env: { MERCURY_RESET_ADMIN_PASSWORD: 'a-new-admin-password' } })
    try {
      expect(second.output()).toMatch(/admin password was reset from MERCURY_RESET_ADMIN_PASSWORD \(2 sessions ended\)/)
      for (const client of [admin, token, pat]) (client as { baseUrl: string }).baseUrl = second.url
      expect((await admin.get('/api/me')).status).toBe(401)
      expect((await token.get('/api/me')).status).toBe(401)
      // A personal access token is not a session: it stays, as with any new password.
      expect((await pat.get('/api/me')).status).toBe(200)
      const login = (password: string) => new ApiClient(second.url).post('/api/auth/login', { username: 'admin', password })
      expect((await login(ADMIN_PASSWORD)).status).toBe(401)
      expect((await login('a-new-admin-password')).status).toBe(200)
    }
    finally {
      await second.stop()
    }
  })
})
