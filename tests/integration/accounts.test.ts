import { createECDH } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { defaults, seal, unseal } from 'iron-webcrypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, runSql, startServer, storedDate, type RunningServer } from '../helpers/server'
import { ApiClient, adminAndUser } from '../helpers/client'

let server: RunningServer
let admin: ApiClient
let user: ApiClient
let userId: string

beforeAll(async () => {
  server = await startServer()
  ;({ admin, user, userId } = await adminAndUser(server.url, ADMIN_PASSWORD))
})

afterAll(async () => {
  await server?.stop()
})

const DAY_MS = 24 * 60 * 60_000

/** When a Set-Cookie of the session cookie says it expires, in ms since the epoch. */
function cookieExpiry(setCookies: string[]): number {
  const cookie = setCookies.find(c => c.startsWith('mercury-session='))
  const expires = cookie && /;\s*Expires=([^;]+)/i.exec(cookie)?.[1]
  if (!expires) throw new Error(`no expiry in ${JSON.stringify(setCookies)}`)
  return Date.parse(expires)
}

// The session cookie as h3 seals it: {id, createdAt, data}, with the server's generated secret.
type SealedSession = { id: string, createdAt: number, data: Record<string, unknown> }
// Node's Web Crypto; iron-webcrypto types its own, which differs only in how it types buffers.
const webCrypto = crypto as unknown as Parameters<typeof seal>[0]
const sessionSecret = () => readFileSync(path.join(server.db.dataDir, 'session-secret'), 'utf8').trim()
const unsealCookie = async (cookie: string) =>
  await unseal(webCrypto, decodeURIComponent(cookie.replace(/^mercury-session=/, '')), sessionSecret(), defaults) as SealedSession
const sealCookie = async (session: SealedSession) =>
  `mercury-session=${encodeURIComponent(await seal(webCrypto, session, sessionSecret(), { ...defaults, ttl: 30 * DAY_MS }))}`

describe('health and sessions', () => {
  it('reports health', async () => {
    const res = await new ApiClient(server.url).get('/api/health')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ status: 'ok', database: 'up' })
  })

  it('logs in with a session cookie and a personal token, and logs out', async () => {
    const client = new ApiClient(server.url)
    const login = await client.login('admin', ADMIN_PASSWORD)
    expect(login.body.user).toMatchObject({ username: 'admin', role: 'admin' })
    expect(login.body.user.passwordHash).toBeUndefined()
    expect(login.body.token).toMatch(/^mpat_/)
    const cookie = login.headers.getSetCookie().join('\n')
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/SameSite=Lax/i)

    const me = await client.get('/api/me')
    expect(me.status).toBe(200)
    expect(me.body.user.username).toBe('admin')
    expect(me.body.permissions.admin).toBe(true)

    const byToken = new ApiClient(server.url)
    byToken.token = login.body.token
    expect((await byToken.get('/api/me')).body.user.username).toBe('admin')

    // A personal access token is not a login: a logout with it is refused and ends nothing.
    const made = await client.post('/api/me/tokens', { name: 'script' })
    expect(made.status).toBe(201)
    const script = new ApiClient(server.url)
    script.token = made.body.token
    const refused = await script.post('/api/auth/logout')
    expect(refused.status).toBe(400)
    expect(refused.body.message).toMatch(/personal access token/)
    expect((await script.get('/api/me')).status).toBe(200)
    expect((await client.get('/api/me')).status).toBe(200)

    expect((await client.post('/api/auth/logout')).status).toBe(200)
    expect((await client.get('/api/me')).status).toBe(401)
    // Logging out revokes the token created by that login (a bearer of it can log out too).
    expect((await byToken.get('/api/me')).status).toBe(401)
    expect((await script.get('/api/me')).status).toBe(200)
    const again = new ApiClient(server.url)
    again.token = (await again.login('admin', ADMIN_PASSWORD)).body.token
    expect((await again.post('/api/auth/logout')).status).toBe(200)
    expect((await again.get('/api/me')).status).toBe(401)
  })

  it('ends the login a logout names, when it is not the session the logout comes with, and never that session', async () => {
    const first = new ApiClient(server.url)
    const firstLogin = await first.login('admin', ADMIN_PASSWORD)
    const firstTokenId = (await first.get('/api/_auth/session')).body.tokenId as string
    expect(firstTokenId).toEqual(expect.any(String))
    const second = new ApiClient(server.url)
    await second.login('admin', ADMIN_PASSWORD)
    // A logout asked for the first login, sent late with the second's cookie: the first ends.
    const late = await second.post('/api/auth/logout', { tokenId: firstTokenId })
    expect(late.status).toBe(200)
    expect(late.headers.getSetCookie()).toEqual([])
    expect((await first.get('/api/me')).status).toBe(401)
    expect((await Object.assign(new ApiClient(server.url), { token: firstLogin.body.token }).get('/api/me')).status).toBe(401)
    expect((await second.get('/api/me')).status).toBe(200)
    // Sent again (the other tab's copy of it), or naming another user's login: nothing is ended.
    const again = await second.post('/api/auth/logout', { tokenId: firstTokenId })
    expect(again.status).toBe(409)
    expect(again.body.message).toMatch(/another login/)
    const otherTokenId = (await user.get('/api/_auth/session')).body.tokenId as string
    expect((await second.post('/api/auth/logout', { tokenId: otherTokenId })).status).toBe(409)
    expect((await user.get('/api/me')).status).toBe(200)
    expect((await second.get('/api/me')).status).toBe(200)
    // A personal access token ends no login, named or not (it is not one).
    const script = await second.post('/api/me/tokens', { name: 'late-logout-script' })
    expect(script.status).toBe(201)
    const third = new ApiClient(server.url)
    await third.login('admin', ADMIN_PASSWORD)
    const thirdTokenId = (await third.get('/api/_auth/session')).body.tokenId as string
    const byScript = Object.assign(new ApiClient(server.url), { token: script.body.token })
    const refused = await byScript.post('/api/auth/logout', { tokenId: thirdTokenId })
    expect(refused.status).toBe(400)
    expect(refused.body.message).toMatch(/personal access token/)
    expect((await third.get('/api/me')).status).toBe(200)
    // Naming its own login, a logout is the plain one.
    const own = (await second.get('/api/_auth/session')).body.tokenId as string
    expect((await second.post('/api/auth/logout', { tokenId: own })).status).toBe(200)
    expect((await second.get('/api/me')).status).toBe(401)
    expect((await second.post('/api/auth/logout', { tokenId: '' })).status).toBe(400)
  })

  it('answers 401 without a session and for a bad token', async () => {
    const anonymous = new ApiClient(server.url)
    const res = await anonymous.get('/api/me')
    expect(res.status).toBe(401)
    expect(res.body).toMatchObject({ statusCode: 401, message: expect.any(String) })
    anonymous.token = 'mpat_not-a-real-token'
    expect((await anonymous.get('/api/me')).status).toBe(401)
  })

  it('answers an ended session\'s question about itself without clearing the cookie (a login made meanwhile keeps its own)', async () => {
    const tab = new ApiClient(server.url)
    await tab.login('admin', ADMIN_PASSWORD)
    const ended = tab.cookie
    expect((await Object.assign(new ApiClient(server.url), { cookie: ended }).post('/api/auth/logout')).status).toBe(200)
    // A tab still holding the ended session's cookie asks who is logged in; the answer is slow,
    // and another tab logs in meanwhile: that answer must not clear the new login's cookie.
    const res = await fetch(`${server.url}/api/_auth/session`, { headers: { cookie: ended, accept: 'application/json' } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({})
    expect(res.headers.getSetCookie()).toEqual([])
  })

  it('sets no cookie on a request made without one', async () => {
    for (const path of ['/api/me', '/api/inbox', '/api/subscriptions']) {
      const answer = await new ApiClient(server.url).get(path)
      expect(answer.status).toBe(401)
      expect(answer.headers.getSetCookie(), path).toEqual([])
    }
  })

  it('gives the login\'s cookie the lifetime of a session unused: 30 days by default', async () => {
    const before = Date.now()
    const login = await new ApiClient(server.url).login('admin', ADMIN_PASSWORD)
    const expiry = cookieExpiry(login.headers.getSetCookie())
    // Expires has whole seconds.
    expect(expiry).toBeGreaterThanOrEqual(before + 30 * DAY_MS - 1000)
    expect(expiry).toBeLessThanOrEqual(Date.now() + 30 * DAY_MS)
  })

  it('counts a request made with the session cookie as a use of its login, which keeps it from lapsing', async () => {
    const client = new ApiClient(server.url)
    await client.login('admin', ADMIN_PASSWORD)
    // Found in the database: a request to ask would be a use already.
    const [row] = await runSql<{ id: string }>(server.db, 'SELECT "id" FROM "AccessToken" WHERE "name" = $1 ORDER BY "createdAt" DESC LIMIT 1', ['login'])
    const tokenId = row!.id
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000)
    await runSql(server.db, 'UPDATE "AccessToken" SET "lastUsedAt" = $1 WHERE "id" = $2', [storedDate(server.db, tenMinutesAgo), tokenId])
    const used = Date.now()
    expect((await client.get('/api/me')).status).toBe(200)
    // Written off the request path.
    await expect.poll(async () => {
      const [token] = await runSql<{ lastUsedAt: string | Date }>(server.db, 'SELECT "lastUsedAt" FROM "AccessToken" WHERE "id" = $1', [tokenId])
      return new Date(token!.lastUsedAt).getTime()
    }).toBeGreaterThanOrEqual(used - 1000)
  })

  it('renews a session cookie set more than a day ago when it is used, keeping all it holds', async () => {
    const client = new ApiClient(server.url)
    await client.login('admin', ADMIN_PASSWORD)
    // Used the day it was set: not sealed again.
    expect((await client.get('/api/me')).headers.getSetCookie()).toEqual([])
    const session = await unsealCookie(client.cookie)
    expect(session.data).toMatchObject({ user: { username: 'admin' }, tokenId: expect.any(String), loggedInAt: expect.any(Number) })
    client.cookie = await sealCookie({ ...session, createdAt: Date.now() - 2 * DAY_MS })
    const before = Date.now()
    const used = await client.get('/api/me')
    expect(used.status).toBe(200)
    expect(cookieExpiry(used.headers.getSetCookie())).toBeGreaterThanOrEqual(before + 30 * DAY_MS - 1000)
    const renewed = await unsealCookie(client.cookie)
    expect(renewed.createdAt).toBeGreaterThanOrEqual(before)
    expect(renewed.data).toEqual(session.data)
    expect((await client.get('/api/me')).headers.getSetCookie()).toEqual([])
  })

  it('answers 401 for a wrong password and 429 with Retry-After on the 11th rapid try', async () => {
    const client = new ApiClient(server.url)
    const created = await admin.post('/api/admin/users', { username: 'victim', password: 'victim-password', role: 'user' })
    expect(created.status).toBe(201)
    for (let i = 0; i < 10; i++) {
      const res = await client.post('/api/auth/login', { username: 'victim', password: `wrong-${i}` })
      expect(res.status).toBe(401)
      expect(res.body.message).toBe('Wrong username or password')
    }
    const blocked = await client.post('/api/auth/login', { username: 'victim', password: 'wrong-again' })
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
    // Even the right password waits until the window ends.
    expect((await client.post('/api/auth/login', { username: 'victim', password: 'victim-password' })).status).toBe(429)
    // Other accounts are not locked out by it.
    expect((await new ApiClient(server.url).post('/api/auth/login', { username: 'alice', password: 'user-password-1' })).status).toBe(200)
  })

  it('counts guesses sent all at once: no more than the limit are checked', async () => {
    expect((await admin.post('/api/admin/users', { username: 'burst', password: 'burst-password' })).status).toBe(201)
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      new ApiClient(server.url).post('/api/auth/login', { username: 'burst', password: `wrong-${i}` })))
    const statuses = results.map(r => r.status)
    expect(statuses.filter(s => s === 401)).toHaveLength(10)
    expect(statuses.filter(s => s === 429)).toHaveLength(20)
    // Refused guesses did not use up the address's allowance: another account still logs in.
    expect((await new ApiClient(server.url).post('/api/auth/login', { username: 'alice', password: 'user-password-1' })).status).toBe(200)
  })

  it('holds at most 100 personal access tokens per user, logins aside', async () => {
    expect((await admin.post('/api/admin/users', { username: 'hoarder', password: 'user-password-1' })).status).toBe(201)
    const hoarder = new ApiClient(server.url)
    await hoarder.login('hoarder', 'user-password-1')
    for (let i = 0; i < 100; i++) expect((await hoarder.post('/api/me/tokens', { name: `t${i}` })).status).toBe(201)
    const over = await hoarder.post('/api/me/tokens', { name: 'one too many' })
    expect(over.status).toBe(409)
    expect(over.body.message).toBe('At most 100 personal access tokens per user: revoke one first')
    // Logging in still works: a login's token is not a personal one.
    expect((await new ApiClient(server.url).login('hoarder', 'user-password-1')).status).toBe(200)
  })

  it('manages personal access tokens', async () => {
    const created = await user.post('/api/me/tokens', { name: 'script' })
    expect(created.status).toBe(201)
    expect(created.body.token).toMatch(/^mpat_/)
    const script = new ApiClient(server.url)
    script.token = created.body.token
    expect((await script.get('/api/me')).body.user.username).toBe('alice')
    const list = await user.get('/api/me/tokens')
    expect(list.body.some((t: { name: string }) => t.name === 'script')).toBe(true)
    expect(JSON.stringify(list.body)).not.toContain(created.body.token)
    expect((await user.delete(`/api/me/tokens/${created.body.accessToken.id}`)).status).toBe(204)
    expect((await script.get('/api/me')).status).toBe(401)
    // "login" names the tokens logins make: a token of one's own cannot pass for one.
    for (const name of ['login', ' Login ']) {
      const reserved = await user.post('/api/me/tokens', { name })
      expect(reserved.status).toBe(400)
      expect(reserved.body.message).toMatch(/name: is reserved/)
    }
    // Nobody deletes another user's token.
    const adminToken = await admin.post('/api/me/tokens', { name: 'mine' })
    expect((await user.delete(`/api/me/tokens/${adminToken.body.accessToken.id}`)).status).toBe(404)
  })
})

describe('own password', () => {
  it('changes the password with the current one, and ends login tokens, not personal ones', async () => {
    expect((await admin.post('/api/admin/users', { username: 'carol', password: 'user-password-1' })).status).toBe(201)
    const carol = new ApiClient(server.url)
    await carol.login('carol', 'user-password-1')
    const loginToken = new ApiClient(server.url)
    loginToken.token = (await new ApiClient(server.url).login('carol', 'user-password-1')).body.token
    const pat = new ApiClient(server.url)
    pat.token = (await carol.post('/api/me/tokens', { name: 'script' })).body.token
    expect((await carol.post('/api/me/password', { currentPassword: 'nope', newPassword: 'carol-new-pass' })).status).toBe(403)
    expect((await carol.post('/api/me/password', { currentPassword: 'user-password-1', newPassword: 'short' })).status).toBe(400)
    expect((await carol.post('/api/me/password', { currentPassword: 'user-password-1', newPassword: 'carol-new-pass' })).status).toBe(200)
    await new ApiClient(server.url).login('carol', 'carol-new-pass')
    expect((await loginToken.get('/api/me')).status).toBe(401)
    // Her own: a change of one's own password keeps them, hers to revoke.
    expect((await pat.get('/api/me')).status).toBe(200)
    expect((await carol.get('/api/me')).status).toBe(200)
  })

  it('takes one of two new passwords sent at once from two sessions, and tells the other', async () => {
    expect((await admin.post('/api/admin/users', { username: 'twins', password: 'user-password-1' })).status).toBe(201)
    const first = new ApiClient(server.url)
    const second = new ApiClient(server.url)
    await first.login('twins', 'user-password-1')
    await second.login('twins', 'user-password-1')
    const answers = await Promise.all([
      first.post('/api/me/password', { currentPassword: 'user-password-1', newPassword: 'password-of-first' }),
      second.post('/api/me/password', { currentPassword: 'user-password-1', newPassword: 'password-of-second' }),
    ])
    expect(answers.map(a => a.status).sort()).toEqual([200, 403])
    const winner = answers[0]!.status === 200 ? 'password-of-first' : 'password-of-second'
    const loser = winner === 'password-of-first' ? 'password-of-second' : 'password-of-first'
    expect((await new ApiClient(server.url).post('/api/auth/login', { username: 'twins', password: winner })).status).toBe(200)
    expect((await new ApiClient(server.url).post('/api/auth/login', { username: 'twins', password: loser })).status).toBe(401)
    // The session that changed it stays, as a change of one's own password keeps its session.
    expect((await (answers[0]!.status === 200 ? first : second).get('/api/me')).status).toBe(200)
  })

  it('limits guesses of the current password like logins', async () => {
    expect((await admin.post('/api/admin/users', { username: 'dora', password: 'user-password-1' })).status).toBe(201)
    const dora = new ApiClient(server.url)
    await dora.login('dora', 'user-password-1')
    const statuses = []
    for (let i = 0; i < 11; i++) statuses.push((await dora.post('/api/me/password', { currentPassword: `guess-${i}`, newPassword: 'dora-new-pass' })).status)
    expect(statuses).toEqual([...Array(10).fill(403), 429])
    // The right one waits too, and the session goes on.
    const blocked = await dora.post('/api/me/password', { currentPassword: 'user-password-1', newPassword: 'dora-new-pass' })
    expect(blocked.status).toBe(429)
    expect(blocked.body.message).toMatch(/Too many failed password checks/)
    expect((await dora.get('/api/me')).status).toBe(200)
  })
})

describe('admin: users, groups, grants', () => {
  it('creates, lists, updates and deletes users', async () => {
    const created = await admin.post('/api/admin/users', { username: 'bob', password: 'bob-password', role: 'user' })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ username: 'bob', role: 'user' })
    const dup = await admin.post('/api/admin/users', { username: 'bob', password: 'bob-password' })
    expect(dup.status).toBe(409)
    // A name that differs only by case could pass for the other one.
    const lookalike = await admin.post('/api/admin/users', { username: 'BOB', password: 'bob-password' })
    expect(lookalike.status).toBe(409)
    expect(lookalike.body.message).toBe('Username "BOB" is taken (as "bob")')
    expect((await admin.patch(`/api/admin/users/${created.body.id}`, { username: 'Bob' })).status).toBe(200)
    const alice = (await admin.get('/api/admin/users')).body.find((u: { username: string }) => u.username === 'alice')
    expect((await admin.patch(`/api/admin/users/${alice.id}`, { username: 'BOB' })).status).toBe(409)
    expect((await admin.patch(`/api/admin/users/${created.body.id}`, { username: 'bob' })).status).toBe(200)
    // One name whatever its case, at login too.
    expect((await new ApiClient(server.url).login('BOB', 'bob-password')).body.user.username).toBe('bob')

    const list = await admin.get('/api/admin/users')
    expect(list.body.map((u: { username: string }) => u.username)).toEqual(expect.arrayContaining(['admin', 'alice', 'bob']))

    const patched = await admin.patch(`/api/admin/users/${created.body.id}`, { role: 'admin', password: 'new-bob-password' })
    expect(patched.status).toBe(200)
    expect(patched.body.role).toBe('admin')
    await new ApiClient(server.url).login('bob', 'new-bob-password')

    expect((await admin.delete(`/api/admin/users/${created.body.id}`)).status).toBe(204)
    expect((await admin.get(`/api/admin/users/${created.body.id}`)).status).toBe(404)
  })

  it('creates or renames to only one of names that differ by case, even at the same moment', async () => {
    for (let round = 0; round < 5; round++) {
      const names = [`race${round}`, `RACE${round}`, `Race${round}`]
      const answers = await Promise.all(names.map(username => admin.post('/api/admin/users', { username, password: 'race-password' })))
      expect(answers.map(a => a.status).sort()).toEqual([201, 409, 409])
      for (const refused of answers.filter(a => a.status === 409)) expect(refused.body.message).toMatch(/^Username "\w+" is taken/)
    }
    const [first, second] = await Promise.all(['rename-a', 'rename-b'].map(username => admin.post('/api/admin/users', { username, password: 'race-password' })))
    const renames = await Promise.all([
      admin.patch(`/api/admin/users/${first!.body.id}`, { username: 'same-name' }),
      admin.patch(`/api/admin/users/${second!.body.id}`, { username: 'Same-Name' }),
    ])
    expect(renames.map(r => r.status).sort()).toEqual([200, 409])
    const users = (await admin.get('/api/admin/users')).body as { username: string }[]
    expect(users.filter(u => u.username.toLowerCase() === 'same-name')).toHaveLength(1)
  })

  it('keeps at least one admin', async () => {
    const me = await admin.get('/api/me')
    const adminId = me.body.user.id
    expect((await admin.delete(`/api/admin/users/${adminId}`)).status).toBe(409)
    expect((await admin.patch(`/api/admin/users/${adminId}`, { role: 'user' })).status).toBe(409)
  })

  it('keeps an admin when the two last admins demote or delete each other at the same moment', async () => {
    const adminId = (await admin.get('/api/me')).body.user.id as string
    for (const [round, how] of (['demote', 'delete', 'demote'] as const).entries()) {
      const peers = await Promise.all(['p', 'q'].map(async (name) => {
        const username = `peer-${name}-${round}`
        const created = await admin.post('/api/admin/users', { username, password: 'peer-admin-pass', role: 'admin' })
        expect(created.status).toBe(201)
        const client = new ApiClient(server.url)
        await client.login(username, 'peer-admin-pass')
        return { id: created.body.id as string, client }
      }))
      const [p, q] = peers as [typeof peers[0], typeof peers[0]]
      // Two admins left: p and q.
      expect((await p.client.patch(`/api/admin/users/${adminId}`, { role: 'user' })).status).toBe(200)
      // p also sets a password: hashing it used to open the gap between the check and the write.
      const [first, second] = await Promise.all([
        p.client.patch(`/api/admin/users/${q.id}`, { role: 'user', password: 'a-new-password' }),
        how === 'demote' ? q.client.patch(`/api/admin/users/${p.id}`, { role: 'user' }) : q.client.delete(`/api/admin/users/${p.id}`),
      ])
      // One wins; the other is refused: 409 (it would leave no admin), 403 (no longer an admin) or
      // 401 (deleted).
      const refused = [first.status, second.status].filter(status => [401, 403, 409].includes(status))
      expect(refused, `${how}: ${first.status} ${second.status}`).toHaveLength(1)
      const winner = first.status < 300 ? p : q
      const admins = ((await winner.client.get('/api/admin/users')).body as { id: string, role: string }[]).filter(u => u.role === 'admin')
      expect(admins.map(u => u.id)).toEqual([winner.id])
      // Back to "admin" alone, for what follows.
      expect((await winner.client.patch(`/api/admin/users/${adminId}`, { role: 'admin' })).status).toBe(200)
      for (const peer of [p, q]) expect([204, 404]).toContain((await admin.delete(`/api/admin/users/${peer.id}`)).status)
    }
  })

  it('manages groups, members and grants, and computes effective permissions', async () => {
    const group = await admin.post('/api/admin/groups', { name: 'ops' })
    expect(group.status).toBe(201)
    expect((await admin.post('/api/admin/groups', { name: 'ops' })).status).toBe(409)
    const gid = group.body.id

    expect((await admin.post(`/api/admin/groups/${gid}/members`, { userId })).status).toBe(201)
    const groups = await admin.get('/api/admin/groups')
    expect(groups.body.find((g: { id: string }) => g.id === gid).members).toEqual([{ id: userId, username: 'alice' }])

    const groupGrant = await admin.post('/api/admin/grants', { groupId: gid, topic: 'alerts.*', read: true })
    expect(groupGrant.status).toBe(201)
    const userGrant = await admin.post('/api/admin/grants', { userId, topic: 'sensors.room1', read: true, publish: true })
    expect(userGrant.status).toBe(201)
    const again = await admin.post('/api/admin/grants', { userId, topic: 'sensors.room1', read: true, publish: true })
    expect(again.status).toBe(409)
    // Said for a person (the app shows the message); the existing grant's id is in `data`.
    expect(again.body.message).toBe('This grant exists already')
    expect(again.body.data).toEqual({ id: userGrant.body.id })

    let me = await user.get('/api/me')
    expect(me.body.permissions).toEqual({ admin: false, read: ['alerts.*', 'sensors.room1'], publish: ['sensors.room1'] })
    // A pattern granted twice (own and group) counts once; a publish-only grant gives no read.
    const twice = await admin.post('/api/admin/grants', { groupId: gid, topic: 'sensors.room1', read: false, publish: true })
    const publishOnly = await admin.post('/api/admin/grants', { groupId: gid, topic: 'alerts.out', read: false, publish: true })
    me = await user.get('/api/me')
    expect(me.body.permissions).toEqual({ admin: false, read: ['alerts.*', 'sensors.room1'], publish: ['alerts.out', 'sensors.room1'] })
    for (const grant of [twice, publishOnly]) expect((await admin.delete(`/api/admin/grants/${grant.body.id}`)).status).toBe(204)
    const grants = await admin.get(`/api/admin/grants?groupId=${gid}`)
    expect(grants.body).toHaveLength(1)

    // Leaving the group takes its grants away.
    expect((await admin.delete(`/api/admin/groups/${gid}/members`, { userId })).status).toBe(204)
    me = await user.get('/api/me')
    expect(me.body.permissions.read).toEqual(['sensors.room1'])
    expect((await admin.delete(`/api/admin/groups/${gid}/members`, { userId })).status).toBe(404)

    // Membership through the path form, then delete grants both ways.
    expect((await admin.post(`/api/admin/groups/${gid}/members`, { userId })).status).toBe(201)
    expect((await admin.delete(`/api/admin/groups/${gid}/members/${userId}`)).status).toBe(204)
    expect((await admin.delete(`/api/admin/grants/${groupGrant.body.id}`)).status).toBe(204)
    expect((await admin.delete('/api/admin/grants', { id: userGrant.body.id })).status).toBe(204)
    expect((await admin.delete(`/api/admin/grants/${userGrant.body.id}`)).status).toBe(404)
    me = await user.get('/api/me')
    expect(me.body.permissions.read).toEqual([])

    expect((await admin.patch(`/api/admin/groups/${gid}`, { description: 'on call' })).body.description).toBe('on call')
    expect((await admin.delete(`/api/admin/groups/${gid}`)).status).toBe(204)
    expect((await admin.delete(`/api/admin/groups/${gid}`)).status).toBe(404)
  })
})

const ADMIN_ROUTES: [string, string, unknown?][] = [
  ['GET', '/api/admin/users'],
  ['POST', '/api/admin/users', { username: 'mallory', password: 'mallory-pass', role: 'admin' }],
  ['GET', '/api/admin/users/x'],
  ['PATCH', '/api/admin/users/x', { role: 'admin' }],
  ['DELETE', '/api/admin/users/x'],
  ['GET', '/api/admin/groups'],
  ['POST', '/api/admin/groups', { name: 'g' }],
  ['PATCH', '/api/admin/groups/x', { name: 'g' }],
  ['DELETE', '/api/admin/groups/x'],
  ['POST', '/api/admin/groups/x/members', { userId: 'x' }],
  ['DELETE', '/api/admin/groups/x/members', { userId: 'x' }],
  ['DELETE', '/api/admin/groups/x/members/y'],
  ['GET', '/api/admin/grants'],
  ['POST', '/api/admin/grants', { userId: 'x', topic: '*', read: true }],
  ['DELETE', '/api/admin/grants/x'],
  ['DELETE', '/api/admin/grants', { id: 'x' }],
]

describe('authorization', () => {
  it.each(ADMIN_ROUTES)('%s %s is 403 for a user and 401 for nobody', async (method, path, body) => {
    const asUser = await user.request(method, path, body)
    expect(asUser.status).toBe(403)
    expect(asUser.body).toMatchObject({ statusCode: 403, message: expect.any(String) })
    expect((await new ApiClient(server.url).request(method, path, body)).status).toBe(401)
  })
})

describe('bad input', () => {
  const raw = (path: string, body: string, method = 'POST', type = 'application/json') =>
    admin.request(method, path, body, { raw: true, headers: { 'content-type': type } })

  it.each([
    ['POST', '/api/auth/login'],
    ['POST', '/api/admin/users'],
    ['PATCH', '/api/admin/users/x'],
    ['POST', '/api/admin/groups'],
    ['PATCH', '/api/admin/groups/x'],
    ['POST', '/api/admin/groups/x/members'],
    ['POST', '/api/admin/grants'],
    ['POST', '/api/me/tokens'],
    ['POST', '/api/me/password'],
  ])('%s %s: malformed JSON is 400, wrong types are 400, a huge body is 413', async (method, path) => {
    const malformed = await raw(path, '{"username": ', method)
    expect(malformed.status).toBe(400)
    expect(malformed.body).toMatchObject({ statusCode: 400, message: expect.stringContaining('JSON') })

    const wrongTypes = await admin.request(method, path, { username: 5, password: [], name: {}, userId: 7, topic: 1, role: 3, read: 'yes' })
    expect([400, 404]).toContain(wrongTypes.status)
    if (wrongTypes.status === 400) expect(wrongTypes.body.message).toMatch(/Invalid body/)

    const huge = await raw(path, JSON.stringify({ name: 'x'.repeat(70 * 1024) }), method)
    expect(huge.status).toBe(413)

    const notJson = await raw(path, 'name=x', method, 'application/x-www-form-urlencoded')
    expect([400, 404, 415]).toContain(notJson.status)
  })

  it('names the missing or wrong fields', async () => {
    const res = await admin.post('/api/admin/users', { username: 'ok-name' })
    expect(res.status).toBe(400)
    expect(res.body.message).toMatch(/password/)
    const role = await admin.post('/api/admin/users', { username: 'ok-name', password: 'long-enough', role: 'root' })
    expect(role.status).toBe(400)
    expect(role.body.message).toMatch(/role/)
    const grant = await admin.post('/api/admin/grants', { topic: 'a b' })
    expect(grant.status).toBe(400)
    expect(grant.body.message).toMatch(/topic/)
    const empty = await admin.post('/api/auth/login')
    expect(empty.status).toBe(400)
  })

  it('names what is wrong in a POST /api/inbox/read, whichever field it is', async () => {
    const cases: [unknown, string][] = [
      [{ ids: Array.from({ length: 1001 }, (_, i) => `n${i}`) }, 'ids: must have at most 1,000 ids'],
      [{ ids: [] }, 'ids: must not be empty'],
      [{ all: true, upTo: 1 }, 'upTo: must be an ISO 8601 date-time'],
      [{ all: true, upTo: '2026-01-31' }, 'upTo: must be an ISO 8601 date-time'],
      [{ all: false }, 'all: must be true'],
      [{ all: 'yes' }, 'all: must be true'],
      [{ ids: ['x'], all: true }, 'give ids or all, not both'],
      [{ ids: ['x'], upTo: '2026-01-31T12:00:00Z' }, 'upTo: goes with all: true only'],
      [{}, 'give {ids: [...]} or {all: true'],
    ]
    for (const [body, message] of cases) {
      const res = await user.post('/api/inbox/read', body)
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400)
      expect(res.body.message, JSON.stringify(body).slice(0, 60)).toContain(`Invalid body: ${message}`)
    }
    expect((await user.post('/api/inbox/read', { all: true, upTo: '2026-01-31T12:00:00+01:00' })).status).toBe(200)
    expect((await user.post('/api/inbox/read', { ids: ['x'] })).status).toBe(200)
    // all: false says nothing against ids: a client may send it with every request.
    expect((await user.post('/api/inbox/read', { ids: ['x'], all: false })).status).toBe(200)
  })

  it('answers 404 for unknown ids', async () => {
    expect((await admin.patch('/api/admin/users/nope', { role: 'user' })).status).toBe(404)
    expect((await admin.delete('/api/admin/users/nope')).status).toBe(404)
    expect((await admin.patch('/api/admin/groups/nope', { name: 'x' })).status).toBe(404)
    expect((await admin.post('/api/admin/groups/nope/members', { userId })).status).toBe(404)
    expect((await admin.post('/api/admin/grants', { userId: 'nope', topic: 'a' })).status).toBe(404)
    expect((await admin.post('/api/admin/grants', { groupId: 'nope', topic: 'a' })).status).toBe(404)
    expect((await admin.delete('/api/admin/grants', { id: 'nope' })).status).toBe(404)
  })

  it('answers a JSON 404 for unknown API routes', async () => {
    const res = await admin.get('/api/does-not-exist')
    expect(res.status).toBe(404)
    expect(res.body).toMatchObject({ statusCode: 404, message: expect.any(String) })
    // /api itself too, not the app's page.
    for (const [method, path] of [['GET', '/api'], ['GET', '/api/'], ['POST', '/api/'], ['DELETE', '/api']] as const) {
      const answer = await admin.request(method, path, undefined, { headers: { origin: server.url } })
      expect(answer.status, `${method} ${path}`).toBe(404)
      expect(answer.headers.get('content-type'), `${method} ${path}`).toMatch(/json/)
    }
  })

  it('answers a plain request to a socket\'s path with a JSON 426 that says to connect with a WebSocket, and the API\'s headers', async () => {
    for (const path of ['/channel', '/datalink', '/channel?token=x']) {
      const res = await fetch(`${server.url}${path}`)
      expect(res.status, path).toBe(426)
      expect(res.headers.get('content-type'), path).toMatch(/json/)
      expect(res.headers.get('referrer-policy'), path).toBe('strict-origin-when-cross-origin')
      const body = await res.json()
      expect(body.message, path).toBe(`${path.split('?')[0]} is a WebSocket endpoint: connect with a WebSocket client (see docs/PROTOCOL.md)`)
      // The path only, as the API's errors give it: not the host the request named.
      expect(body.url, path).toBe(path)
    }
  })

  it('answers a built file that is not there (an old release\'s, after a deploy) with a plain 404, not JSON', async () => {
    // As the browser asks for a stylesheet and a script: JSON there is reported as the wrong type.
    for (const [file, accept] of [['/_nuxt/entry.gone.css', 'text/css,*/*;q=0.1'], ['/_nuxt/gone.js', '*/*'], ['/_nuxt/builds/meta/gone.json', 'application/json']] as const) {
      const res = await fetch(`${server.url}${file}`, { headers: { accept } })
      expect(res.status, file).toBe(404)
      expect(res.headers.get('content-type'), file).toMatch(/^text\/plain/)
      expect(await res.text(), file).toBe('Not Found')
    }
    // The directories of built files are not pages: the app's shell there was cached for a year.
    for (const dir of ['/_nuxt/', '/_nuxt', '/_nuxt/builds/', '/_nuxt/?x=1']) {
      const res = await fetch(`${server.url}${dir}`)
      expect(res.status, dir).toBe(404)
      expect(res.headers.get('cache-control'), dir).not.toMatch(/immutable|max-age=[1-9]/)
      expect(await res.text(), dir).toBe('Not Found')
    }
    // A built file that is there is served as before.
    const shell = await (await fetch(server.url)).text()
    const script = shell.match(/\/_nuxt\/[\w.-]+\.js/)?.[0]
    expect(script).toBeDefined()
    const res = await fetch(`${server.url}${script}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/javascript/)
  })

  it('is still healthy after all of it', async () => {
    expect((await admin.get('/api/health')).status).toBe(200)
    expect(server.process.exitCode).toBeNull()
    expect(server.output()).not.toMatch(/\b500\b.*Internal|unhandled/i)
  })
})

// Requests sent at the same moment that touch the same rows: each gets an answer of the documented
// set (never a 500), and what is stored after is what one at a time would have left. A server of
// their own: the logins that lose a race count as failures, which would use up the address's
// allowance of the server above.
describe('requests racing each other', () => {
  let racing: RunningServer
  let root: ApiClient
  const AT_ONCE = 20

  beforeAll(async () => {
    racing = await startServer()
    root = new ApiClient(racing.url)
    await root.login('admin', ADMIN_PASSWORD)
  })

  afterAll(async () => {
    await racing?.stop()
  })

  const statusesOf = (answers: { status: number }[]) => [...new Set(answers.map(a => a.status))].sort()
  const newUser = async (username: string, password = 'racing-password') => {
    const created = await root.post('/api/admin/users', { username, password })
    expect(created.status).toBe(201)
    return created.body.id as string
  }
  const loggedIn = async (username: string, password = 'racing-password') => {
    const client = new ApiClient(racing.url)
    client.token = (await client.login(username, password)).body.token
    return client
  }
  const device = (endpoint: string) => ({
    subscription: { endpoint: `https://push.example.com/${endpoint}`, expirationTime: null, keys: { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: Buffer.alloc(16, 2).toString('base64url') } },
  })

  it('adds a member sent many times at once once, answering each as a repeated add', async () => {
    const memberId = await newUser('joiner')
    const group = (await root.post('/api/admin/groups', { name: 'joined' })).body
    const answers = await Promise.all(Array.from({ length: AT_ONCE }, () => root.post(`/api/admin/groups/${group.id}/members`, { userId: memberId })))
    expect(statusesOf(answers)).toEqual([201])
    for (const answer of answers) expect(answer.body).toMatchObject({ userId: memberId, groupId: group.id })
    const groups = (await root.get('/api/admin/groups')).body as { id: string, members: { id: string }[] }[]
    expect(groups.find(g => g.id === group.id)!.members).toEqual([{ id: memberId, username: 'joiner' }])
  })

  it('answers 404 to a member added and a grant given while the group is deleted', async () => {
    const memberId = await newUser('homeless')
    for (let round = 0; round < 5; round++) {
      const group = (await root.post('/api/admin/groups', { name: `doomed-${round}` })).body
      const [deleted, ...answers] = await Promise.all([
        root.delete(`/api/admin/groups/${group.id}`),
        ...Array.from({ length: AT_ONCE / 2 }, () => root.post(`/api/admin/groups/${group.id}/members`, { userId: memberId })),
        ...Array.from({ length: AT_ONCE / 2 }, (_, i) => root.post('/api/admin/grants', { groupId: group.id, topic: `doomed.${i}`, read: true })),
      ])
      expect(deleted.status).toBe(204)
      expect(statusesOf(answers).filter(status => status !== 201 && status !== 404), JSON.stringify(answers.map(a => a.body))).toEqual([])
      for (const refused of answers.filter(a => a.status === 404)) expect(refused.body.message).toBe('Group not found')
    }
    expect(((await root.get('/api/admin/users')).body as { id: string, groups: unknown[] }[]).find(u => u.id === memberId)!.groups).toEqual([])
  })

  it('answers 404 to changes of a user deleted at the same moment, and deletes it once', async () => {
    const groupId = (await root.post('/api/admin/groups', { name: 'for-the-deleted' })).body.id
    for (let round = 0; round < 5; round++) {
      const id = await newUser(`deleted-${round}`)
      const answers = await Promise.all([
        ...Array.from({ length: 3 }, () => root.delete(`/api/admin/users/${id}`)),
        ...Array.from({ length: 5 }, (_, i) => root.patch(`/api/admin/users/${id}`, { username: `renamed-${round}-${i}`, role: i % 2 ? 'admin' : 'user' })),
        ...Array.from({ length: 5 }, (_, i) => root.post('/api/admin/grants', { userId: id, topic: `gone.${i}`, read: true })),
        ...Array.from({ length: 5 }, () => root.post(`/api/admin/groups/${groupId}/members`, { userId: id })),
      ])
      const [deletes, patches, grants, members] = [answers.slice(0, 3), answers.slice(3, 8), answers.slice(8, 13), answers.slice(13)]
      expect(deletes.map(a => a.status).sort()).toEqual([204, 404, 404])
      expect(statusesOf(patches).filter(status => status !== 200 && status !== 404)).toEqual([])
      expect(statusesOf([...grants, ...members]).filter(status => status !== 201 && status !== 404)).toEqual([])
      for (const refused of answers.filter(a => a.status === 404)) expect(refused.body.message).toBe('User not found')
      expect((await root.get(`/api/admin/users/${id}`)).status).toBe(404)
    }
  })

  it('refuses with 401 what a user adds for themselves while they are deleted', async () => {
    for (let round = 0; round < 5; round++) {
      const id = await newUser(`vanishing-${round}`)
      const client = await loggedIn(`vanishing-${round}`)
      expect((await root.post('/api/admin/grants', { userId: id, topic: 'vanishing.*', read: true })).status).toBe(201)
      const [deleted, ...answers] = await Promise.all([
        root.delete(`/api/admin/users/${id}`),
        ...Array.from({ length: 5 }, (_, i) => client.post('/api/subscriptions', { topic: `vanishing.${i}` })),
        ...Array.from({ length: 5 }, (_, i) => client.post('/api/devices', device(`vanishing-${round}-${i}`))),
        ...Array.from({ length: 5 }, (_, i) => client.post('/api/me/tokens', { name: `vanishing-${i}` })),
        client.post('/api/me/password', { currentPassword: 'racing-password', newPassword: 'another-password' }),
      ])
      expect(deleted.status).toBe(204)
      expect(statusesOf(answers).filter(status => status !== 200 && status !== 201 && status !== 401), JSON.stringify(answers.map(a => a.body))).toEqual([])
    }
  })

  it('makes one grant of the same grant sent many times at once, and tells the others its id', async () => {
    const id = await newUser('granted')
    const groupId = (await root.post('/api/admin/groups', { name: 'granted' })).body.id
    for (const grantee of [{ userId: id }, { groupId }]) {
      const answers = await Promise.all(Array.from({ length: AT_ONCE }, () => root.post('/api/admin/grants', { ...grantee, topic: 'granted.*', read: true })))
      const made = answers.filter(a => a.status === 201)
      expect(made).toHaveLength(1)
      for (const refused of answers.filter(a => a.status !== 201)) {
        expect(refused.status).toBe(409)
        expect(refused.body.data).toEqual({ id: made[0]!.body.id })
      }
      const query = 'userId' in grantee ? `userId=${id}` : `groupId=${groupId}`
      expect((await root.get(`/api/admin/grants?${query}`)).body).toHaveLength(1)
    }
  })

  it('holds the limits of 100 personal tokens and 100 devices when many are added at once', async () => {
    await newUser('crowded')
    const client = await loggedIn('crowded')
    for (let i = 0; i < 95; i++) expect((await client.post('/api/me/tokens', { name: `t${i}` })).status).toBe(201)
    for (let i = 0; i < 95; i++) expect((await client.post('/api/devices', device(`crowded-${i}`))).status).toBe(201)
    const [tokens, devices] = await Promise.all([
      Promise.all(Array.from({ length: AT_ONCE }, (_, i) => client.post('/api/me/tokens', { name: `late-${i}` }))),
      Promise.all(Array.from({ length: AT_ONCE }, (_, i) => client.post('/api/devices', device(`crowded-late-${i}`)))),
    ])
    for (const answers of [tokens, devices]) {
      expect(answers.filter(a => a.status === 201)).toHaveLength(5)
      expect(answers.filter(a => a.status === 409)).toHaveLength(AT_ONCE - 5)
    }
    expect(((await client.get('/api/me/tokens')).body as { name: string }[]).filter(t => t.name !== 'login')).toHaveLength(100)
    expect((await client.get('/api/devices')).body).toHaveLength(100)
  })

  it('lets no login with the old password outlive a new password set at the same moment', async () => {
    for (let round = 0; round < 6; round++) {
      const username = `relogin-${round}`
      const id = await newUser(username, 'old-password')
      const own = round % 2 ? await loggedIn(username, 'old-password') : null
      const [changed, ...logins] = await Promise.all([
        own ? own.post('/api/me/password', { currentPassword: 'old-password', newPassword: 'new-password' }) : root.patch(`/api/admin/users/${id}`, { password: 'new-password' }),
        ...Array.from({ length: 4 }, () => new ApiClient(racing.url).post('/api/auth/login', { username, password: 'old-password' })),
      ])
      expect(changed.status).toBe(200)
      for (const login of logins) {
        expect([200, 401]).toContain(login.status)
        if (login.status !== 200) {
          expect(login.body.message).toBe('Wrong username or password')
          continue
        }
        const session = new ApiClient(racing.url)
        session.token = login.body.token
        expect((await session.get('/api/me')).status, `round ${round}: a login with the old password survived`).toBe(401)
      }
    }
  })

  it('left none of these races to the error handler\'s 404 and 409 for a write that lost one', () => {
    // That answer (plugins/05.errors.ts) is the net under a race a route does not foresee; each of
    // the routes above answers its own, and says what was missing.
    expect(racing.output()).not.toMatch(/for a concurrent change/)
  })
})
