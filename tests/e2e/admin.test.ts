import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, BrowserContextOptions, Locator, Page, WebSocket, WebSocketRoute } from 'playwright-core'
import { ADMIN_PASSWORD, startServer, type RunningServer } from '../helpers/server'
import { holdRequests, launchBrowser } from '../helpers/browser'
import { ApiClient } from '../helpers/client'
import { createActiveSource } from '../helpers/fixtures'
import { TestSocket } from '../helpers/ws'
import { fieldError } from '../helpers/a11y'

let server: RunningServer
let browser: Browser
let admin: ApiClient

beforeAll(async () => {
  server = await startServer()
  browser = await launchBrowser()
  admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
})

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

/** A browser context logged in through the API (the context shares its cookies with its pages). */
/** A delivery as GET /api/admin/deliveries lists it, for pages whose answers a test makes up: the i-th newest. */
function fakeDelivery(prefix: string, i: number, topic: string) {
  const at = new Date(Date.now() - i * 1000).toISOString()
  return {
    id: `${prefix}${String(i).padStart(3, '0')}`, status: 'sent', attempts: 1, statusCode: 201, error: null, createdAt: at, updatedAt: at,
    device: null, notification: { id: `n${prefix}${i}`, title: `Delivery ${i}`, topic },
  }
}

async function loggedIn(username: string, password: string, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options)
  const res = await context.request.post(`${server.url}/api/auth/login`, { data: { username, password } })
  expect(res.status()).toBe(200)
  return context
}

async function openLive(context: BrowserContext, path: string): Promise<Page> {
  const page = await context.newPage()
  await page.goto(`${server.url}${path}`)
  await page.getByTestId('admin-live').and(page.locator('[data-status="open"]')).waitFor()
  return page
}

const datalink = (token: string) => TestSocket.open(`${server.url}/datalink`, { token })

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms))])
}

describe('sources', () => {
  it('shows a change made by one admin in another admin\'s view within a second, and producers follow', async () => {
    const [ctxA, ctxB] = await Promise.all([loggedIn('admin', ADMIN_PASSWORD), loggedIn('admin', ADMIN_PASSWORD)])
    const [a, b] = await Promise.all([openLive(ctxA, '/admin/sources'), openLive(ctxB, '/admin/sources')])
    const rowB = b.getByTestId('source-row-weather')

    // Create in A; the form validates with the API's schema before sending.
    await a.getByRole('button', { name: 'New source' }).click()
    const form = a.getByTestId('source-form')
    await form.getByLabel('Allowed topics').fill('weather.*, bad pattern!')
    await form.getByRole('button', { name: 'Create source' }).click()
    await expect.poll(() => form.textContent()).toContain('Name is required')
    await form.getByLabel('Name').fill('weather')
    await form.getByLabel('Allowed topics').fill('weather.*')
    await form.getByRole('button', { name: 'Create source' }).click()
    const token = (await a.getByTestId('source-token').textContent())!.trim()
    expect(token).toMatch(/^msrc_/)
    await expect.poll(() => a.getByTestId('token-reveal').textContent()).toContain(`Bearer ${token}`)
    await expect.poll(() => rowB.getAttribute('data-status'), { timeout: 1000 }).toBe('active')
    expect(await rowB.getByTestId('source-topics').textContent()).toContain('weather.*')

    const producer = await datalink(token)
    expect(await producer.request({ type: 'publish', topic: 'weather.paris', data: { temp: 12 } })).toMatchObject({ type: 'ack' })

    // Edit in A.
    await a.getByTestId('source-row-weather').getByRole('button', { name: 'Edit' }).click()
    const edit = a.getByRole('form', { name: 'Edit weather' })
    await edit.getByLabel('Description').fill('Roof station')
    await edit.getByLabel('Allowed topics').fill('weather.*, climate.*')
    await edit.getByRole('button', { name: 'Save changes' }).click()
    await expect.poll(() => rowB.getByTestId('source-description').textContent(), { timeout: 1000 }).toBe('Roof station')
    expect(await rowB.getByTestId('source-topics').textContent()).toContain('climate.*')

    // Deactivate in A: B sees it, and the producer is cut off at once.
    await a.getByTestId('source-row-weather').getByRole('button', { name: 'Deactivate' }).click()
    await expect.poll(() => rowB.getAttribute('data-status'), { timeout: 1000 }).toBe('inactive')
    expect((await withTimeout(producer.closed, 1000, 'closing the producer')).code).toBe(4001)
    await expect(datalink(token)).rejects.toMatchObject({ status: 403 })

    // Reactivate in A: accepted again.
    await a.getByTestId('source-row-weather').getByRole('button', { name: 'Reactivate' }).click()
    await expect.poll(() => rowB.getAttribute('data-status'), { timeout: 1000 }).toBe('active')
    const again = await datalink(token)
    expect(await again.request({ type: 'publish', topic: 'climate.paris', data: { temp: 13 } })).toMatchObject({ type: 'ack' })
    await again.close()

    // Delete with confirmation in B: gone from A.
    await rowB.getByRole('button', { name: 'Delete' }).click()
    await rowB.getByRole('button', { name: 'Yes, delete' }).click()
    await expect.poll(() => a.getByTestId('source-row-weather').count(), { timeout: 1000 }).toBe(0)
    await Promise.all([ctxA.close(), ctxB.close()])
  })
})

describe('dashboard', () => {
  it('charts a topic\'s numeric telemetry as it arrives and moves the counters', async () => {
    const source = await createActiveSource(admin, 'thermo', 'telemetry.*')
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin?topic=telemetry.room1')
    const producer = await datalink(source.token)
    let i = 0
    const stream = setInterval(() => {
      producer.send({ type: 'publish', topic: 'telemetry.room1', event: 'reading', data: { temp: 20 + (i % 10), humidity: 40 + (i % 7) } })
      i++
    }, 100)
    try {
      const chart = page.getByTestId('topic-chart').and(page.locator('[data-topic="telemetry.room1"]'))
      await expect.poll(() => chart.getAttribute('data-series'), { timeout: 5000 }).toBe('temp,humidity')
      const canvas = chart.locator('canvas')
      await canvas.waitFor()
      const points = async () => Number(await chart.getAttribute('data-points'))
      const pixels = () => canvas.evaluate((c: HTMLCanvasElement) => c.toDataURL())
      const firstPoints = await points()
      const firstPixels = await pixels()
      await expect.poll(points, { timeout: 3000 }).toBeGreaterThan(firstPoints + 5)
      await expect.poll(pixels, { timeout: 3000 }).not.toBe(firstPixels)

      await expect.poll(async () => Number(await page.getByTestId('stat-per-minute').textContent()), { timeout: 3000 }).toBeGreaterThan(5)
      const before = Number(await page.getByTestId('stat-per-minute').textContent())
      await expect.poll(async () => Number(await page.getByTestId('stat-per-minute').textContent()), { timeout: 3000 }).toBeGreaterThan(before)
      expect(await page.getByTestId('stat-producers').textContent()).toContain('1')
      expect(await page.getByTestId('per-source').textContent()).toContain('thermo')
      await expect.poll(() => page.getByTestId('topic-log-row').count()).toBeGreaterThan(5)
      expect(await page.getByTestId('topic-log-row').first().textContent()).toContain('"temp"')
      // Nothing to push here: the queues are empty.
      await expect.poll(async () => (await page.getByTestId('stat-queues').textContent())?.replace(/\s+/g, '')).toBe('fanout0push0result0')

      // With no topic chosen, the dashboard follows the busiest one, and keeps the address clean.
      const open = await openLive(context, '/admin')
      await open.getByTestId('topic-chart').and(open.locator('[data-topic="telemetry.room1"]')).waitFor({ timeout: 5000 })
      expect(new URL(open.url()).searchParams.has('topic')).toBe(false)
      await open.getByLabel('Watch a topic').fill('bad topic!')
      await open.getByRole('button', { name: 'Watch', exact: true }).click()
      await expect.poll(() => open.getByRole('alert').filter({ hasText: 'topic name' }).count()).toBe(1)
    }
    finally {
      clearInterval(stream)
      await producer.close()
      await context.close()
    }
  })
})

describe('access', () => {
  it('fits every admin page in a phone\'s width: wide tables scroll inside their panel', async () => {
    for (const width of [360, 390]) {
      const phone = await browser.newContext({ viewport: { width, height: 844 }, isMobile: true, hasTouch: true })
      expect((await phone.request.post(`${server.url}/api/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } })).status()).toBe(200)
      for (const path of ['/admin', '/admin/sources', '/admin/users', '/admin/groups', '/admin/deliveries']) {
        const page = await openLive(phone, path)
        await page.locator('main, .admin-shell').first().waitFor()
        await page.waitForTimeout(300)
        const widest = await page.evaluate(() => {
          const over = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
          return { scrollWidth: document.documentElement.scrollWidth, over: over.slice(0, 5).map(e => `${e.tagName}.${e.className}`) }
        })
        expect(widest.scrollWidth, `${path} at ${width} px: ${widest.over.join(', ')}`).toBeLessThanOrEqual(width)
        await page.close()
      }
      await phone.close()
    }
  })

  it('lets the keyboard reach every scroller at a phone\'s width: each is a named region in the tab order', async () => {
    // Something to fill the tables: a source, a topic published to in the last minute, its log.
    const source = await createActiveSource(admin, 'scroller', 'scroll.*')
    const producer = await datalink(source.token)
    expect(await producer.request({ type: 'publish', topic: 'scroll.a-rather-long-topic-name', data: { value: 1 } })).toMatchObject({ type: 'ack' })
    await producer.close()
    const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true })
    expect((await phone.request.post(`${server.url}/api/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } })).status()).toBe(200)
    for (const path of ['/admin?topic=scroll.a-rather-long-topic-name,scroll.empty', '/admin/sources', '/admin/users', '/admin/deliveries']) {
      const page = await openLive(phone, path)
      if (path.startsWith('/admin?')) await page.getByTestId('per-topic').getByText('scroll.a-rather-long-topic-name').waitFor({ timeout: 3000 })
      await page.waitForTimeout(300)
      // What axe's scrollable-region-focusable asks: a scroller that scrolls can be focused, or holds something that can.
      const unreachable = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('body *')].filter((element) => {
        const style = getComputedStyle(element)
        const scrolls = (/auto|scroll/.test(style.overflowX) && element.scrollWidth > element.clientWidth + 1)
          || (/auto|scroll/.test(style.overflowY) && element.scrollHeight > element.clientHeight + 1)
        return scrolls && element.tabIndex < 0 && !element.querySelector('a[href], button, input, select, textarea, [tabindex="0"]')
      }).map(element => `${element.tagName}.${element.className}`))
      expect(unreachable, path).toEqual([])
      const regions = await page.locator('[role="region"][tabindex="0"]').evaluateAll(list => list.map(element => element.getAttribute('aria-label')))
      expect(regions.every(Boolean), path).toBe(true)
      await page.close()
    }
    await phone.close()
  })

  it('names every column of every admin table, the action columns too (visually hidden)', async () => {
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    for (const path of ['/admin', '/admin/sources', '/admin/users', '/admin/deliveries']) {
      const page = await openLive(context, path)
      await page.locator('table').first().waitFor()
      const headers = await page.locator('th').evaluateAll(list => list.map(th => th.textContent?.trim() ?? ''))
      expect(headers.length, path).toBeGreaterThan(0)
      expect(headers.filter(text => !text), `${path}: ${headers.join(' | ')}`).toEqual([])
      await page.close()
    }
    await context.close()
  })

  it('has a skip link first, as the app has, that takes the focus past the top bar to the content', async () => {
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin/users')
    await page.keyboard.press('Tab')
    const skip = page.getByRole('link', { name: 'Skip to content' })
    expect(await skip.evaluate(link => link === document.activeElement)).toBe(true)
    expect((await skip.boundingBox())!.y).toBeGreaterThanOrEqual(0)
    await page.keyboard.press('Enter')
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('main')
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.closest('main') !== null)).toBe(true)
    await context.close()
  })

  it('shows every user\'s Details and Delete at a phone\'s width, without scrolling sideways', async () => {
    await admin.post('/api/admin/users', { username: 'a-user-with-a-rather-long-name', password: 'long-name-password-1' })
    const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true })
    expect((await phone.request.post(`${server.url}/api/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } })).status()).toBe(200)
    const page = await openLive(phone, '/admin/users')
    const row = page.getByTestId('user-row-a-user-with-a-rather-long-name')
    for (const name of ['Details of a-user-with-a-rather-long-name', 'Delete a-user-with-a-rather-long-name']) {
      const button = row.getByRole('button', { name })
      await button.scrollIntoViewIfNeeded()
      const box = (await button.boundingBox())!
      expect(box.x, name).toBeGreaterThanOrEqual(0)
      expect(box.x + box.width, name).toBeLessThanOrEqual(360)
      // Nothing scrolled sideways to get there.
      expect(await button.evaluate(element => element.closest('.table-wrap')!.scrollLeft)).toBe(0)
    }
    await phone.close()
  })

  it('keeps plain users and visitors out of every admin page', async () => {
    const created = await admin.post('/api/admin/users', { username: 'plain', password: 'plain-password-1' })
    expect(created.status).toBe(201)
    const context = await loggedIn('plain', 'plain-password-1')
    const page = await context.newPage()
    for (const path of ['/admin', '/admin/sources', '/admin/users', '/admin/groups', '/admin/deliveries']) {
      await page.goto(`${server.url}${path}`)
      await page.waitForURL(/\/admin\/not-allowed$/)
      await page.getByTestId('admin-not-allowed').waitFor()
    }
    await context.close()

    const visitor = await browser.newContext()
    const anonymous = await visitor.newPage()
    await anonymous.goto(`${server.url}/admin/sources`)
    await anonymous.waitForURL(/\/login$/)
    await visitor.close()
  })
})

describe('wording and names', () => {
  it('names each row button after its source, and counts one connected person as a person', async () => {
    await createActiveSource(admin, 'cron', '*')
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin/sources')
    for (const name of ['Edit cron', 'Deactivate cron', 'Rotate token of cron', 'Delete cron']) {
      await page.getByRole('button', { name, exact: true }).waitFor()
    }
    await page.getByRole('button', { name: 'Delete cron', exact: true }).click()
    const confirm = page.getByRole('group', { name: 'Confirm: Delete cron' })
    await confirm.getByRole('button', { name: 'Cancel' }).click()
    await page.getByRole('button', { name: 'Delete cron', exact: true }).waitFor()
    await page.close()

    // This context is the only one connected: one person, not "1 people".
    const dashboard = await openLive(context, '/admin')
    await expect.poll(() => dashboard.getByTestId('stat-people').textContent(), { timeout: 3000 }).toMatch(/^\s*1 person\s*$/)
    await context.close()
  })
})

describe('people', () => {
  it('creates a group, adds a member and grants a topic; the user\'s permissions show it', async () => {
    const alice = await admin.post('/api/admin/users', { username: 'carol', password: 'carol-password-1' })
    expect(alice.status).toBe(201)
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const groups = await openLive(context, '/admin/groups')
    await groups.getByLabel('Name').fill('night-shift')
    await groups.getByRole('button', { name: 'Create group' }).click()
    const card = groups.getByTestId('group-night-shift')
    await card.getByLabel('Add a member to night-shift').selectOption({ label: 'carol' })
    await card.getByRole('button', { name: 'Add', exact: true }).click()
    await expect.poll(() => card.textContent()).toContain('carol')
    await card.getByLabel('Topic pattern').fill('alerts.*')
    await card.getByLabel('Publish').check()
    await card.getByRole('button', { name: 'Grant' }).click()
    await expect.poll(() => card.getByTestId('grant-list').textContent()).toContain('alerts.*')

    const users = await openLive(context, '/admin/users')
    await users.getByTestId('user-row-carol').getByRole('button', { name: 'Details' }).click()
    const permissions = users.getByTestId('user-permissions')
    await expect.poll(() => permissions.textContent()).toMatch(/Read:\s*alerts\.\*/)
    await expect.poll(() => permissions.textContent()).toMatch(/Publish:\s*alerts\.\*/)
    // A change from elsewhere (here: the API) reaches the open page without a reload.
    await admin.delete(`/api/admin/groups/${(await admin.get('/api/admin/groups')).body[0].id}/members/${alice.body.id}`)
    await expect.poll(() => permissions.textContent(), { timeout: 2000 }).toMatch(/Read:\s*nothing/)

    // The account form says what is wrong next to the field, and a refusal from the server shows
    // in view, wherever the form is on the page.
    const account = users.getByRole('form', { name: 'Rename or reset password' })
    await account.getByLabel('New password').fill('short')
    await account.getByRole('button', { name: 'Save' }).click()
    await expect.poll(() => account.textContent()).toMatch(/New password must be at least 8 characters/)
    await account.getByLabel('New password').fill('')
    await account.getByLabel('Username').fill('admin')
    await account.getByRole('button', { name: 'Save' }).click()
    const refusal = users.getByRole('alert').filter({ hasText: 'is taken' })
    await refusal.waitFor()
    const box = (await refusal.boundingBox())!
    const viewport = users.viewportSize()!
    expect(box.y).toBeGreaterThanOrEqual(0)
    expect(box.y + box.height).toBeLessThanOrEqual(viewport.height)

    // A new attempt in another form: its error shows in it; the name taken stays the account form's
    // username error (its value is still taken), and the page's notice says nothing.
    const create = users.getByRole('form', { name: 'New user' })
    await create.getByLabel('Username').fill('zed')
    await create.getByLabel('Password').fill('short')
    await create.getByRole('button', { name: /Create/ }).click()
    await expect.poll(() => create.textContent()).toMatch(/Password must be at least 8 characters/)
    expect(await create.getByRole('alert').count()).toBe(1)
    expect(await account.getByRole('alert').textContent()).toMatch(/Username is taken/)
    expect(await users.locator('.notice').count()).toBe(0)
    await context.close()
  })
})

describe('edits by two admins at once', () => {
  /** The body of the next PATCH the page sends. */
  const nextPatch = (page: Page) => page.waitForRequest(req => req.method() === 'PATCH').then(req => req.postDataJSON())

  it('sends only the fields changed in the form: a change another admin made meanwhile survives, and shows in the open form', async () => {
    const deployer = await createActiveSource(admin, 'deployer', 'deploy.*')
    const dave = await admin.post('/api/admin/users', { username: 'dave', password: 'dave-password-1' })
    const group = await admin.post('/api/admin/groups', { name: 'ops', description: '' })
    const context = await loggedIn('admin', ADMIN_PASSWORD)

    // A source: another admin changes its topics and description while this form is open.
    const page = await openLive(context, '/admin/sources')
    await page.getByTestId('source-row-deployer').getByRole('button', { name: 'Edit' }).click()
    const form = page.getByRole('form', { name: 'Edit deployer' })
    await form.getByLabel('Name').waitFor()
    await admin.patch(`/api/admin/sources/${deployer.id}`, { topics: 'deploy.*, build.*', description: 'Ships releases' })
    await expect.poll(() => form.getByLabel('Allowed topics').inputValue(), { timeout: 2000 }).toBe('deploy.*, build.*')
    expect(await form.getByLabel('Description').inputValue()).toBe('Ships releases')
    await form.getByLabel('Name').fill('deployer-2')
    const sourcePatch = nextPatch(page)
    await form.getByRole('button', { name: 'Save changes' }).click()
    expect(await sourcePatch).toEqual({ name: 'deployer-2' })
    await page.getByTestId('source-row-deployer-2').waitFor()
    expect((await admin.get(`/api/admin/sources/${deployer.id}`)).body).toMatchObject({ name: 'deployer-2', topics: 'deploy.*,build.*', description: 'Ships releases' })

    // A user: renamed elsewhere while this admin sets a new password.
    const users = await openLive(context, '/admin/users')
    await users.getByTestId('user-row-dave').getByRole('button', { name: 'Details' }).click()
    const account = users.getByRole('form', { name: 'Rename or reset password' })
    await account.getByLabel('Username').waitFor()
    await admin.patch(`/api/admin/users/${dave.body.id}`, { username: 'david' })
    await expect.poll(() => account.getByLabel('Username').inputValue(), { timeout: 2000 }).toBe('david')
    await account.getByLabel('New password').fill('another-password-1')
    const userPatch = nextPatch(users)
    await account.getByRole('button', { name: 'Save' }).click()
    expect(await userPatch).toEqual({ password: 'another-password-1' })
    await users.getByRole('status').filter({ hasText: 'saved' }).waitFor()
    expect((await admin.get(`/api/admin/users/${dave.body.id}`)).body).toMatchObject({ username: 'david' })

    // A group: described elsewhere while this admin renames it.
    const groups = await openLive(context, '/admin/groups')
    await groups.getByTestId('group-ops').getByRole('button', { name: 'Edit' }).click()
    const groupForm = groups.getByRole('form', { name: 'Edit ops' })
    await groupForm.getByLabel('Group name').waitFor()
    await admin.patch(`/api/admin/groups/${group.body.id}`, { description: 'On call' })
    await expect.poll(() => groupForm.getByLabel('Description').inputValue(), { timeout: 2000 }).toBe('On call')
    await groupForm.getByLabel('Group name').fill('operations')
    const groupPatch = nextPatch(groups)
    await groupForm.getByRole('button', { name: 'Save' }).click()
    expect(await groupPatch).toEqual({ name: 'operations' })
    await groups.getByTestId('group-operations').waitFor()
    const saved = (await admin.get('/api/admin/groups')).body.find((g: { id: string }) => g.id === group.body.id)
    expect(saved).toMatchObject({ name: 'operations', description: 'On call' })
    await context.close()
  })
})

describe('keyboard focus', () => {
  /** What has the focus: the element's accessible name or, without one, its text. */
  const focused = (page: Page) => page.evaluate(() => {
    const element = document.activeElement
    return element === document.body ? 'BODY' : (element?.getAttribute('aria-label') || element?.textContent || '').trim().replace(/\s+/g, ' ')
  })

  it('moves the focus to the new token after a rotation, and to the heading after a delete, on sources (the button is busy meanwhile)', async () => {
    await createActiveSource(admin, 'focus-rotate', '*')
    await createActiveSource(admin, 'focus-delete', '*')
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin/sources')

    await page.getByRole('button', { name: 'Rotate token of focus-rotate' }).focus()
    await page.keyboard.press('Enter')
    await page.keyboard.press('Enter')
    await page.getByTestId('token-reveal').waitFor()
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('token-reveal')

    await page.getByRole('button', { name: 'Delete focus-delete' }).focus()
    await page.keyboard.press('Enter')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.getByTestId('source-row-focus-delete').count()).toBe(0)
    await expect.poll(() => focused(page)).toBe('Sources')
    await context.close()
  })

  it('changes a user\'s role only with Change role: arrowing through the role select saves nothing', async () => {
    const erin = await admin.post('/api/admin/users', { username: 'erin', password: 'erin-password-1' })
    const roleOnServer = async () => (await admin.get(`/api/admin/users/${erin.body.id}`)).body.role
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin/users')
    const select = page.getByLabel('Role of erin', { exact: true })
    await select.focus()
    await page.keyboard.press('ArrowDown')
    expect(await select.inputValue()).toBe('admin')
    await page.waitForTimeout(500)
    expect(await roleOnServer()).toBe('user')

    await page.keyboard.press('Tab')
    expect(await focused(page)).toBe('Change role of erin to admin')
    await page.keyboard.press('Enter')
    await expect.poll(roleOnServer).toBe('admin')
    // The button goes with the change made: the focus is back on the select.
    await expect.poll(() => page.getByRole('button', { name: 'Change role of erin' }).count()).toBe(0)
    expect(await focused(page)).toBe('Role of erin')
    await context.close()
  })

  it('moves the focus to what takes the place of a control that goes: new source, its token, status, details', async () => {
    await admin.post('/api/admin/users', { username: 'frank', password: 'frank-password-1' })
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin/sources')
    // New source: to the form's first field; Cancel: back to New source.
    await page.getByRole('button', { name: 'New source' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => page.evaluate(() => (document.activeElement as HTMLInputElement).name)).toBe('name')
    await page.getByRole('button', { name: 'Cancel' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('New source')
    // Create source: to its token; I have saved it: to the heading.
    await page.keyboard.press('Enter')
    await page.keyboard.type('focus-create')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('token-reveal')
    await page.getByRole('button', { name: 'I have saved it' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Sources')
    // Deactivate and Reactivate: the same button, busy meanwhile, keeps the focus.
    const row = page.getByTestId('source-row-focus-create')
    await page.getByRole('button', { name: 'Deactivate focus-create' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => row.getAttribute('data-status')).toBe('inactive')
    await expect.poll(() => focused(page)).toBe('Reactivate focus-create')
    // Pressed once it is no longer busy (the list may show the new status first).
    await expect.poll(() => page.getByRole('button', { name: 'Reactivate focus-create' }).getAttribute('aria-disabled')).toBeNull()
    await page.keyboard.press('Enter')
    await expect.poll(() => row.getAttribute('data-status')).toBe('active')
    await expect.poll(() => focused(page)).toBe('Deactivate focus-create')

    // Close details: back to the Details button that opened them.
    const users = await openLive(context, '/admin/users')
    await users.getByRole('button', { name: 'Details of frank' }).click()
    await users.getByRole('button', { name: 'Close details' }).focus()
    await users.keyboard.press('Enter')
    await expect.poll(() => users.getByTestId('user-detail').count()).toBe(0)
    expect(await focused(users)).toBe('Details of frank')
    await context.close()
  })

  it('gives the focus back to the row\'s Edit button when the edit form closes: Cancel, Save with nothing changed, Save (busy meanwhile)', async () => {
    await createActiveSource(admin, 'focus-edit', '*')
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin/sources')
    const form = page.getByRole('form', { name: 'Edit focus-edit' })
    await page.getByRole('button', { name: 'Edit focus-edit' }).focus()
    await page.keyboard.press('Enter')
    await form.getByRole('button', { name: 'Cancel' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => form.count()).toBe(0)
    await expect.poll(() => focused(page)).toBe('Edit focus-edit')

    await page.keyboard.press('Enter')
    await form.getByRole('button', { name: 'Save changes' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => form.count()).toBe(0)
    await expect.poll(() => focused(page)).toBe('Edit focus-edit')

    // A save held at the server: Save is busy meanwhile and keeps the focus, then the form goes.
    const saving = await holdRequests(page, '**/api/admin/sources/*', ['PATCH'])
    await page.keyboard.press('Enter')
    await form.getByLabel('Description').fill('Edited from the keyboard')
    const save = form.getByRole('button', { name: 'Save changes' })
    await save.focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => save.getAttribute('aria-disabled')).toBe('true')
    expect(await focused(page)).toBe('Save changes')
    saving.release()
    await expect.poll(() => form.count()).toBe(0)
    await expect.poll(() => focused(page)).toBe('Edit focus-edit')
    expect(await page.getByTestId('source-row-focus-edit').getByTestId('source-description').textContent()).toBe('Edited from the keyboard')
    await context.close()
  })

  it('keeps the focus in a group after Add, Remove, Revoke, Edit and Delete: on the busy control, or on what takes the place of the one that went', async () => {
    await admin.post('/api/admin/users', { username: 'hank', password: 'hank-password-1' })
    await admin.post('/api/admin/users', { username: 'ivy', password: 'ivy-password-1' })
    const made = await admin.post('/api/admin/groups', { name: 'focusers', description: '' })
    for (const topic of ['focus.a', 'focus.b']) {
      expect((await admin.post('/api/admin/grants', { groupId: made.body.id, topic, read: true })).status).toBe(201)
    }
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin/groups')
    const group = page.getByTestId('group-focusers')

    // Add: the choice is cleared once added; the button stays (aria-disabled) with the focus.
    const add = group.getByRole('button', { name: 'Add', exact: true })
    for (const name of ['hank', 'ivy']) {
      await group.getByLabel('Add a member to focusers').selectOption({ label: name })
      await add.focus()
      await page.keyboard.press('Enter')
      await group.getByRole('button', { name: `Remove ${name} from focusers` }).waitFor()
      expect(await focused(page)).toBe('Add')
      expect(await add.getAttribute('aria-disabled')).toBe('true')
    }
    // Enter on it with nothing chosen adds nobody, and keeps the focus.
    await page.keyboard.press('Enter')
    expect(await focused(page)).toBe('Add')

    // Remove: to the next member's button, and after the last to the member select.
    await group.getByRole('button', { name: 'Remove hank from focusers' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Remove ivy from focusers')
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Add a member to focusers')
    expect(await group.textContent()).toContain('No members.')

    // Revoke: to the next grant's Revoke, and after the last to the list, which says it is empty.
    await group.getByRole('button', { name: 'Revoke focus.a' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Revoke focus.b')
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('No grants.')

    // Edit: to the name field; Cancel and Save: back to Edit.
    const edit = group.getByRole('button', { name: 'Edit group focusers' })
    await edit.focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Group name')
    await group.getByRole('button', { name: 'Cancel' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Edit group focusers')
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Group name')
    await page.keyboard.type(' team')
    await page.keyboard.press('Enter')
    const renamed = page.getByTestId('group-focusers team')
    await expect.poll(() => focused(page)).toBe('Edit group focusers team')

    // Delete, confirmed from the keyboard: the group goes, the focus goes to the heading.
    await renamed.getByRole('button', { name: 'Delete group focusers team' }).focus()
    await page.keyboard.press('Enter')
    await page.keyboard.press('Enter')
    await expect.poll(() => renamed.count()).toBe(0)
    await expect.poll(() => focused(page)).toBe('Groups')
    await context.close()
  })

  it('moves the focus to the chart a Chart button opens, and to the next chart when one is closed, on the dashboard', async () => {
    const source = await createActiveSource(admin, 'focus-charts', 'charts.*')
    for (const topic of ['charts.one', 'charts.two']) {
      const res = await fetch(`${server.url}/api/topics/${topic}/messages`, {
        method: 'POST',
        headers: { 'authorization': `Bearer ${source.token}`, 'content-type': 'application/json' },
        body: '{"event":"reading","data":{"v":1}}',
      })
      expect(res.status).toBe(201)
    }
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin?topic=charts.zero')
    const chart = (topic: string) => page.getByRole('row').filter({ hasText: topic }).getByRole('button', { name: 'Chart' })
    await chart('charts.one').waitFor({ timeout: 5000 })
    await chart('charts.one').focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Topic charts.one')
    await chart('charts.two').focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Topic charts.two')
    // A chart that goes: the focus goes to the next one, or the one before the last.
    await page.getByRole('button', { name: 'Stop watching charts.one' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Topic charts.two')
    await page.getByRole('button', { name: 'Stop watching charts.two' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Topic charts.zero')
    await page.getByRole('button', { name: 'Stop watching charts.zero' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Live topics')
    await context.close()
  })

  it('moves the focus to the first older delivery when Older deliveries goes with the last page', async () => {
    const delivery = (i: number) => fakeDelivery('d', i, 'older.x')
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await context.newPage()
    await page.route('**/api/admin/deliveries?**', async (route) => {
      const older = new URL(route.request().url()).searchParams.has('before')
      const items = older ? [50, 51, 52].map(delivery) : Array.from({ length: 50 }, (_, i) => delivery(i))
      await route.fulfill({ json: { items, counts: { queued: 0, sent: 53, failed: 0, expired: 0 } } })
    })
    await page.goto(`${server.url}/admin/deliveries`)
    const older = page.getByRole('button', { name: 'Older deliveries' })
    await older.focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => older.count()).toBe(0)
    await expect.poll(() => page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-delivery-id') ?? document.activeElement?.tagName)).toBe('d050')
    await context.close()
  })

  it('reads an older page once however often it is asked for meanwhile, and keeps the list when it fails', async () => {
    const delivery = (i: number) => fakeDelivery('e', i, 'older.y')
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await context.newPage()
    let olderAsked = 0
    let fail = true
    // Older pages wait until the test lets them go: the extra clicks surely land while one is read.
    let release = () => {}
    let held = Promise.resolve()
    await page.route('**/api/admin/deliveries?**', async (route) => {
      const older = new URL(route.request().url()).searchParams.has('before')
      if (older) {
        olderAsked++
        await held
        if (fail) return route.abort('failed')
      }
      const items = older ? Array.from({ length: 50 }, (_, i) => delivery(50 + i)) : Array.from({ length: 50 }, (_, i) => delivery(i))
      await route.fulfill({ json: { items, counts: { queued: 0, sent: 150, failed: 0, expired: 0 } } })
    })
    await page.goto(`${server.url}/admin/deliveries`)
    const rows = page.getByTestId('delivery-row')
    await expect.poll(() => rows.count()).toBe(50)
    const older = page.getByRole('button', { name: 'Older deliveries' })
    // Failed: the list and the button stay, and the page says why.
    await older.click()
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('The server could not be reached: check the connection, then try again')
    expect(await rows.count()).toBe(50)
    fail = false
    olderAsked = 0
    held = new Promise<void>(resolve => release = resolve)
    await older.click()
    await older.click({ timeout: 300 }).catch(() => {})
    await older.click({ timeout: 300 }).catch(() => {})
    release()
    await expect.poll(() => rows.count()).toBe(100)
    await page.waitForTimeout(700)
    expect(olderAsked).toBe(1)
    expect(await rows.count()).toBe(100)
    await context.close()
  })
})

describe('forms', () => {
  it('says a draft source must be activated, and its curl example publishes once it is', async () => {
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin/sources')
    await page.getByRole('button', { name: 'New source' }).click()
    const form = page.getByTestId('source-form')
    await form.getByLabel('Name').fill('drafty')
    // A pattern whose first star stands for a whole name: the example's topic must still match it.
    await form.getByLabel('Allowed topics').fill('*.')
    await form.getByLabel('Active at once (otherwise a draft)').uncheck()
    await form.getByRole('button', { name: 'Create source' }).click()
    const reveal = page.getByTestId('token-reveal')
    await expect.poll(() => reveal.getByTestId('token-inactive').textContent()).toContain('This source is draft: activate it first')
    const curl = (await reveal.locator('pre').textContent())!
    const url = /curl -s (\S+)/.exec(curl)![1]!
    const token = /Bearer (\S+)"/.exec(curl)![1]!
    const send = () => fetch(url, { method: 'POST', headers: { 'authorization': `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"event":"reading","data":{"temp":21.5}}' })
    expect((await send()).status).toBe(403)
    await page.getByTestId('source-row-drafty').getByRole('button', { name: 'Activate' }).click()
    await expect.poll(() => reveal.getByTestId('token-inactive').count()).toBe(0)
    expect((await send()).status).toBe(201)
    await context.close()
  })

  it('puts the new-user form back to role user, cancels a confirm with Escape, keeps the focus in the page after a delete, and ignores bad topics in the address', async () => {
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const users = await openLive(context, '/admin/users')
    const create = users.getByRole('form', { name: 'New user' })
    await create.getByLabel('Username').fill('second-admin')
    await create.getByLabel('Password').fill('second-admin-pass')
    await create.getByLabel('Role').selectOption('admin')
    await create.getByRole('button', { name: 'Create user' }).click()
    await expect.poll(() => create.getByLabel('Username').inputValue()).toBe('')
    expect(await create.getByLabel('Role').inputValue()).toBe('user')

    const groups = await openLive(context, '/admin/groups')
    const made = await admin.post('/api/admin/groups', { name: 'escapees' })
    expect(made.status).toBe(201)
    const remove = groups.getByRole('button', { name: 'Delete group escapees' })
    await remove.click()
    await groups.getByRole('button', { name: 'Yes, delete' }).press('Escape')
    await expect.poll(() => groups.getByRole('button', { name: 'Yes, delete' }).count()).toBe(0)
    expect(await remove.evaluate(button => button === document.activeElement)).toBe(true)
    // Confirmed, the group goes with its row: the focus goes to the page's heading, not the body.
    await remove.click()
    await groups.getByRole('button', { name: 'Yes, delete' }).click()
    await expect.poll(() => remove.count()).toBe(0)
    await expect.poll(() => groups.evaluate(() => document.activeElement?.textContent)).toBe('Groups')

    const dashboard = await openLive(context, '/admin?topic=bad%20topic!,alerts.x')
    await dashboard.locator('[data-testid="topic-card"][data-topic="alerts.x"]').waitFor()
    expect(await dashboard.getByTestId('topic-card').count()).toBe(1)
    await context.close()
  })
})

describe('actions sent once', () => {
  it('sends a user\'s deletion and a group\'s save once, however often they are clicked while under way', async () => {
    await admin.post('/api/admin/users', { username: 'doubled', password: 'doubled-password' })
    await admin.post('/api/admin/groups', { name: 'twice', description: '' })
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin/users')
    const deleting = await holdRequests(page, '**/api/admin/**', ['DELETE', 'PATCH'])
    const row = page.getByTestId('user-row-doubled')
    await row.getByRole('button', { name: 'Delete doubled' }).click()
    await row.getByRole('button', { name: 'Yes, delete' }).click()
    // Under way: whatever the row shows is clicked again (and confirmed, were it asked).
    for (let i = 0; i < 2; i++) {
      await row.getByRole('button').first().click({ timeout: 500 }).catch(() => {})
      await row.getByRole('button', { name: 'Yes, delete' }).click({ timeout: 500 }).catch(() => {})
    }
    deleting.release()
    await expect.poll(() => row.count()).toBe(0)
    expect(deleting.count('DELETE')).toBe(1)

    const groups = await openLive(context, '/admin/groups')
    const saving = await holdRequests(groups, '**/api/admin/groups/*', ['PATCH'])
    const group = groups.getByTestId('group-twice')
    await group.getByRole('button', { name: 'Edit group twice' }).click()
    await group.getByLabel('Group name').fill('twice over')
    const save = group.getByRole('button', { name: /^Save/ })
    await save.click()
    await save.click({ timeout: 500 }).catch(() => {})
    saving.release()
    await groups.getByTestId('group-twice over').waitFor()
    expect(deleting.count('PATCH') + saving.count('PATCH')).toBe(1)
    await context.close()
  })

  it('creates a user, a group and a source once, and saves a rename once, however often they are sent while under way', async () => {
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await context.newPage()
    const sent: string[] = []
    await page.route('**/api/admin/**', async (route) => {
      const request = route.request()
      if (request.method() === 'POST' || request.method() === 'PATCH') {
        sent.push(`${request.method()} ${new URL(request.url()).pathname}`)
        await new Promise(resolve => setTimeout(resolve, 400))
      }
      await route.continue()
    })
    await page.goto(`${server.url}/admin/users`)
    const newUser = page.getByRole('form', { name: 'New user' })
    await newUser.getByLabel('Username').fill('onceonly')
    await newUser.getByLabel('Password').fill('onceonly-password')
    await newUser.getByLabel('Password').press('Enter')
    await newUser.getByLabel('Password').press('Enter').catch(() => {})
    await page.getByTestId('user-row-onceonly').waitFor()
    await page.getByTestId('user-row-onceonly').getByRole('button', { name: 'Details' }).click()
    const account = page.getByRole('form', { name: 'Rename or reset password' })
    await account.getByLabel('Username').fill('onceonly2')
    await account.getByRole('button', { name: /^Save/ }).click()
    await account.getByRole('button', { name: /^Save/ }).click({ timeout: 300 }).catch(() => {})
    await page.getByTestId('user-row-onceonly2').waitFor()

    await page.goto(`${server.url}/admin/groups`)
    const newGroup = page.getByRole('form', { name: 'New group' })
    await newGroup.getByLabel('Name').fill('oncegroup')
    await newGroup.getByLabel('Name').press('Enter')
    await newGroup.getByLabel('Name').press('Enter').catch(() => {})
    await page.getByTestId('group-oncegroup').waitFor()

    await page.goto(`${server.url}/admin/sources`)
    await page.getByRole('button', { name: 'New source' }).click()
    const form = page.getByTestId('source-form')
    await form.getByLabel('Name').fill('oncesource')
    await form.getByRole('button', { name: 'Create source' }).click()
    await form.getByRole('button', { name: 'Create source' }).click({ timeout: 300 }).catch(() => {})
    await page.getByTestId('source-row-oncesource').waitFor()
    await page.waitForTimeout(500)
    expect(sent.filter(r => r === 'POST /api/admin/users')).toHaveLength(1)
    expect(sent.filter(r => r.startsWith('PATCH /api/admin/users/'))).toHaveLength(1)
    expect(sent.filter(r => r === 'POST /api/admin/groups')).toHaveLength(1)
    expect(sent.filter(r => r === 'POST /api/admin/sources')).toHaveLength(1)
    await context.close()
  })

  it('grants once however often Grant is pressed meanwhile, and keeps a refused pattern to correct', async () => {
    const made = await admin.post('/api/admin/groups', { name: 'granters', description: '' })
    expect((await admin.post('/api/admin/grants', { groupId: made.body.id, topic: 'grant.exists', read: true })).status).toBe(201)
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin/groups')
    let posts = 0
    await page.route('**/api/admin/grants', async (route) => {
      if (route.request().method() === 'POST') {
        posts++
        await new Promise(resolve => setTimeout(resolve, 400))
      }
      await route.continue()
    })
    const form = page.getByTestId('group-granters').getByRole('form', { name: 'Grant access to a topic' })
    const topic = form.getByLabel('Topic pattern')
    await topic.fill('grant.exists')
    await topic.press('Enter')
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'exists' }).count()).toBeGreaterThan(0)
    expect(await topic.inputValue()).toBe('grant.exists')
    await topic.fill('grant.new')
    await topic.press('Enter')
    await topic.press('Enter').catch(() => {})
    await expect.poll(() => topic.inputValue()).toBe('')
    await page.waitForTimeout(500)
    expect(posts).toBe(2)
    await context.close()
  })
})

describe('form errors', () => {
  it('says each error when it shows, next to its field, which it describes and marks invalid', async () => {
    await admin.post('/api/admin/users', { username: 'gina', password: 'gina-password-1' })
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const users = await openLive(context, '/admin/users')
    const create = users.getByRole('form', { name: 'New user' })
    await create.getByRole('button', { name: 'Create user' }).click()
    await expect.poll(() => fieldError(create.getByLabel('Username'))).toEqual({ invalid: true, text: 'Username must be 1-64 letters, digits or _ . @ -', alert: true })
    // A name taken (whatever its case) is the username field's error too.
    await create.getByLabel('Username').fill('GINA')
    await create.getByLabel('Password').fill('gina-password-2')
    await create.getByRole('button', { name: 'Create user' }).click()
    await expect.poll(() => fieldError(create.getByLabel('Username'))).toEqual({ invalid: true, text: 'Username is taken (as "gina")', alert: true })
    expect((await fieldError(create.getByLabel('Password'))).invalid).toBe(false)

    // Renaming someone to a name taken: the username field's error too, not the page's notice.
    await users.getByRole('button', { name: 'Details of gina' }).click()
    const account = users.getByRole('form', { name: 'Rename or reset password' })
    await account.getByLabel('Username').fill('Admin')
    await account.getByRole('button', { name: 'Save' }).click()
    await expect.poll(() => fieldError(account.getByLabel('Username'))).toEqual({ invalid: true, text: 'Username is taken (as "admin")', alert: true })
    expect(await users.locator('.notice').count()).toBe(0)
    // Corrected, the field is valid again.
    await account.getByLabel('Username').fill('gina')
    await account.getByLabel('New password').fill('gina-password-3')
    await account.getByRole('button', { name: 'Save' }).click()
    await expect.poll(() => users.getByRole('status').filter({ hasText: 'User "gina" saved' }).count()).toBe(1)
    expect(await fieldError(account.getByLabel('Username'))).toEqual({ invalid: false, text: '', alert: false })
    await users.getByRole('button', { name: 'Close details' }).click()

    await users.getByRole('button', { name: 'Details of gina' }).click()
    const grant = users.getByRole('form', { name: 'Grant access to a topic' })
    await grant.getByLabel('Topic pattern').fill('bad topic!')
    await grant.getByRole('button', { name: 'Grant' }).click()
    await expect.poll(async () => (await fieldError(grant.getByLabel('Topic pattern'))).alert).toBe(true)
    expect((await fieldError(grant.getByLabel('Topic pattern'))).text).toMatch(/^topic /)

    const sources = await openLive(context, '/admin/sources')
    await sources.getByRole('button', { name: 'New source' }).click()
    const form = sources.getByTestId('source-form')
    await form.getByLabel('Name').fill('errors')
    await form.getByLabel('Allowed topics').fill(',')
    await form.getByLabel('Description').fill('x'.repeat(1001))
    await form.getByRole('button', { name: 'Create source' }).click()
    // The topics' error takes the place of their hint, in the field's description too.
    await expect.poll(() => fieldError(form.getByLabel('Allowed topics')).then(e => e.invalid && e.alert && e.text)).toBeTruthy()
    expect((await fieldError(form.getByLabel('Description'))).invalid).toBe(true)
    expect((await fieldError(form.getByLabel('Description'))).alert).toBe(true)
    await context.close()
  })
})

describe('long names', () => {
  // The longest username a form accepts, without a place to break it: a select sized to it, or a
  // chip holding it, must not push what follows out of its card.
  const longName = 'm'.repeat(64)
  const longGroup = `wide-${'g'.repeat(59)}`

  /** What sticks out of `container` on the right (its scrollers' contents aside). */
  function sticksOut(container: Locator) {
    return container.evaluate((root) => {
      const right = root.getBoundingClientRect().right + 0.5
      return [...root.querySelectorAll('*')]
        .filter(element => element.tagName !== 'OPTION' && element.getBoundingClientRect().right > right)
        .map(element => `${element.tagName}.${element.className}`)
    })
  }

  it('keeps a group\'s controls in its card whatever the length of its name and of a username, at 1280 and 390 px, and Grant and Add work', async () => {
    const user = await admin.post('/api/admin/users', { username: longName, password: 'long-name-password-1' })
    expect(user.status).toBe(201)
    for (const name of [longGroup, 'wide-b', 'wide-c']) expect((await admin.post('/api/admin/groups', { name, description: 'D'.repeat(300) })).status).toBe(201)
    for (const width of [1280, 390]) {
      const context = await browser.newContext({ viewport: { width, height: 900 } })
      expect((await context.request.post(`${server.url}/api/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } })).status()).toBe(200)
      const page = await openLive(context, '/admin/groups')
      const card = page.getByTestId(`group-${longGroup}`)
      await card.getByLabel(`Add a member to ${longGroup}`).locator('option', { hasText: longName }).waitFor({ state: 'attached' })
      const cardBox = (await card.boundingBox())!
      const grant = card.getByRole('button', { name: 'Grant' })
      const grantBox = (await grant.boundingBox())!
      expect(grantBox.x + grantBox.width, `Grant at ${width} px`).toBeLessThanOrEqual(cardBox.x + cardBox.width)
      expect(await sticksOut(card), `${width} px`).toEqual([])
      expect(await page.evaluate(() => document.scrollingElement!.scrollWidth), `${width} px`).toBeLessThanOrEqual(width)
      // Nothing of the next card lies over the button.
      await card.getByLabel('Topic pattern').fill(`wide.${width}`)
      await grant.click({ timeout: 3000 })
      await expect.poll(() => card.getByTestId('grant-list').textContent()).toContain(`wide.${width}`)
      await context.close()
    }

    // A member with that name: the chip breaks the name rather than the card.
    const context = await browser.newContext({ viewport: { width: 390, height: 900 } })
    expect((await context.request.post(`${server.url}/api/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } })).status()).toBe(200)
    const page = await openLive(context, '/admin/groups')
    const card = page.getByTestId(`group-${longGroup}`)
    await card.getByLabel(`Add a member to ${longGroup}`).selectOption({ label: longName })
    await card.getByRole('button', { name: 'Add', exact: true }).click()
    await card.getByRole('button', { name: `Remove ${longName} from ${longGroup}` }).waitFor()
    expect(await sticksOut(card)).toEqual([])
    expect(await page.evaluate(() => document.scrollingElement!.scrollWidth)).toBeLessThanOrEqual(390)
    await context.close()
  })

  it('shows a long username whole on a phone: the user\'s card and details wrap it', async () => {
    if ((await admin.get('/api/admin/users')).body.every((u: { username: string }) => u.username !== longName)) {
      expect((await admin.post('/api/admin/users', { username: longName, password: 'long-name-password-1' })).status).toBe(201)
    }
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
    expect((await phone.request.post(`${server.url}/api/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } })).status()).toBe(200)
    const page = await openLive(phone, '/admin/users')
    const row = page.getByTestId(`user-row-${longName}`)
    await row.waitFor()
    expect(await sticksOut(row)).toEqual([])
    expect(await row.evaluate(element => element.closest('.table-wrap')!.scrollWidth <= element.closest('.table-wrap')!.clientWidth)).toBe(true)
    await row.getByRole('button', { name: `Details of ${longName}` }).click()
    const details = page.getByTestId('user-detail')
    await details.getByRole('heading', { name: longName }).waitFor()
    expect(await sticksOut(details)).toEqual([])
    expect(await page.evaluate(() => document.scrollingElement!.scrollWidth)).toBeLessThanOrEqual(390)
    await phone.close()
  })

  it('keeps a source\'s buttons in view at 1280 px whatever the length of its name', async () => {
    const name = 's'.repeat(64)
    await createActiveSource(admin, name, 'long.*')
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    expect((await context.request.post(`${server.url}/api/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } })).status()).toBe(200)
    const page = await openLive(context, '/admin/sources')
    const remove = page.getByTestId(`source-row-${name}`).getByRole('button', { name: `Delete ${name}` })
    const scroller = await remove.evaluate(element => element.closest('.table-wrap')!.getBoundingClientRect().right)
    const box = (await remove.boundingBox())!
    expect(box.x + box.width).toBeLessThanOrEqual(scroller)
    await context.close()
  })
})

describe('groups', () => {
  it('shows the member select\'s placeholder from the start, and again after an Add', async () => {
    expect((await admin.post('/api/admin/users', { username: 'placeholder-user', password: 'placeholder-password-1' })).status).toBe(201)
    expect((await admin.post('/api/admin/groups', { name: 'placeholder-group' })).status).toBe(201)
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin/groups')
    const select = page.getByLabel('Add a member to placeholder-group')
    await select.locator('option', { hasText: 'placeholder-user' }).waitFor({ state: 'attached' })
    const shown = () => select.evaluate((element: HTMLSelectElement) => element.selectedOptions[0]?.textContent?.trim() ?? null)
    expect(await shown()).toBe('Add a member…')
    await select.selectOption({ label: 'placeholder-user' })
    await page.getByTestId('group-placeholder-group').getByRole('button', { name: 'Add', exact: true }).click()
    await page.getByRole('button', { name: 'Remove placeholder-user from placeholder-group' }).waitFor()
    expect(await shown()).toBe('Add a member…')
    await context.close()
  })
})

describe('delivery log', () => {
  it('keeps the counts live after Older deliveries, keeps the rows read, offers the newer deliveries, and survives a failed refresh', async () => {
    const delivery = (i: number) => fakeDelivery('p', i, 'paged.x')
    // Deliveries made after the page was opened, newest first.
    let arrived: ReturnType<typeof fakeDelivery>[] = []
    let unreachable = false
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await context.newPage()
    await page.route('**/api/admin/deliveries?**', async (route) => {
      if (unreachable) return route.abort('failed')
      const older = new URL(route.request().url()).searchParams.has('before')
      const items = older ? [50, 51, 52].map(delivery) : [...arrived, ...Array.from({ length: 50 }, (_, i) => delivery(i))].slice(0, 50)
      await route.fulfill({ json: { items, counts: { queued: 0, sent: 53 + arrived.length, failed: 0, expired: 0 } } })
    })
    await page.goto(`${server.url}/admin/deliveries`)
    const rows = page.getByTestId('delivery-row')
    const sent = () => page.getByTestId('delivery-counts').getByRole('button', { name: /sent/i }).textContent()
    await expect.poll(() => rows.count()).toBe(50)
    expect(await sent()).toContain('53')
    await page.getByRole('button', { name: 'Older deliveries' }).click()
    await expect.poll(() => rows.count()).toBe(53)

    arrived = [fakeDelivery('q', 1, 'paged.x'), fakeDelivery('q', 0, 'paged.x')]
    await expect.poll(sent, { timeout: 8000 }).toContain('55')
    const newer = page.getByTestId('newer-deliveries')
    await expect.poll(() => newer.textContent()).toMatch(/2 newer deliveries/)
    // The rows being read stay where they are.
    expect(await rows.count()).toBe(53)
    expect(await rows.first().getAttribute('data-delivery-id')).toBe('p000')

    await newer.getByRole('button', { name: 'Show 2 newer deliveries' }).click()
    await expect.poll(() => rows.first().getAttribute('data-delivery-id')).toBe('q001')
    expect(await rows.count()).toBe(50)
    expect(await newer.count()).toBe(0)

    // A refresh that fails keeps the list and says so; the next one that works clears it.
    unreachable = true
    const failed = page.getByText('The list could not be refreshed')
    await failed.waitFor({ timeout: 8000 })
    expect(await rows.count()).toBe(50)
    unreachable = false
    await failed.waitFor({ state: 'detached', timeout: 8000 })
    await context.close()
  })

  it('says there are no deliveries yet, or that none match the filter', async () => {
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await context.newPage()
    await page.route('**/api/admin/deliveries?**', route => route.fulfill({ json: { items: [], counts: { queued: 0, sent: 0, failed: 0, expired: 0 } } }))
    await page.goto(`${server.url}/admin/deliveries`)
    await page.getByText('No deliveries yet.').waitFor()
    await page.getByLabel('Topic').fill('alerts.disk')
    await page.getByRole('button', { name: 'Filter', exact: true }).click()
    await page.getByText('No deliveries match.').waitFor()
    expect(await page.getByText('No deliveries yet.').count()).toBe(0)
    await context.close()
  })
  it('puts From and To in the address as instants, so that a link lists the same deliveries in every time zone, and shows them in local time', async () => {
    const asked = (page: Page) => page.waitForRequest(req => req.url().includes('/api/admin/deliveries?')).then(req => new URL(req.url()).searchParams)
    const from = (page: Page) => page.getByLabel('From', { exact: true })
    const to = (page: Page) => page.getByLabel('To', { exact: true })
    const filter = (page: Page) => page.getByRole('button', { name: 'Filter', exact: true }).click()

    const newYork = await loggedIn('admin', ADMIN_PASSWORD, { timezoneId: 'America/New_York' })
    const made = await newYork.newPage()
    await made.goto(`${server.url}/admin/deliveries`)
    await made.getByTestId('deliveries-table').waitFor()
    await from(made).fill('2026-05-02T10:00')
    await to(made).fill('2026-05-02T12:30')
    const madeAsked = asked(made)
    await filter(made)
    expect(Object.fromEntries(await madeAsked)).toMatchObject({ since: '2026-05-02T14:00:00.000Z', until: '2026-05-02T16:30:00.000Z' })
    await expect.poll(() => new URL(made.url()).searchParams.get('since')).toBe('2026-05-02T14:00:00.000Z')
    expect(new URL(made.url()).searchParams.get('until')).toBe('2026-05-02T16:30:00.000Z')

    const tokyo = await loggedIn('admin', ADMIN_PASSWORD, { timezoneId: 'Asia/Tokyo' })
    const opened = await tokyo.newPage()
    const openedAsked = asked(opened)
    await opened.goto(made.url())
    expect(Object.fromEntries(await openedAsked)).toMatchObject({ since: '2026-05-02T14:00:00.000Z', until: '2026-05-02T16:30:00.000Z' })
    expect(await from(opened).inputValue()).toBe('2026-05-02T23:00')
    expect(await to(opened).inputValue()).toBe('2026-05-03T01:30')
    // Filter, with the fields as they came, keeps the filter.
    await filter(opened)
    expect(new URL(opened.url()).search).toBe(new URL(made.url()).search)

    // A date written as the API gives them shows in its field, to the millisecond, and stays.
    await opened.goto(`${server.url}/admin/deliveries?since=2026-11-25T10:26:06.529Z`)
    await opened.getByTestId('deliveries-table').waitFor()
    expect(await from(opened).inputValue()).toBe('2026-11-25T19:26:06.529')
    await filter(opened)
    expect(new URL(opened.url()).searchParams.get('since')).toBe('2026-11-25T10:26:06.529Z')

    // In the hour a change of time repeats (01:30 comes twice in New York on 1 November), the
    // field's 01:30 is the second one, as the link said: Filter keeps it, not the first.
    const repeated = await newYork.newPage()
    await repeated.goto(`${server.url}/admin/deliveries?since=2026-11-01T06:30:00.000Z`)
    await repeated.getByTestId('deliveries-table').waitFor()
    expect(await from(repeated).inputValue()).toBe('2026-11-01T01:30')
    const repeatedAsked = asked(repeated)
    await filter(repeated)
    expect((await repeatedAsked).get('since')).toBe('2026-11-01T06:30:00.000Z')
    expect(new URL(repeated.url()).searchParams.get('since')).toBe('2026-11-01T06:30:00.000Z')
    // From in the first 01:30-to-02:00, To in the second: From shows later than To, and is not.
    const across = await newYork.newPage()
    await across.goto(`${server.url}/admin/deliveries?since=2026-11-01T05:45:00.000Z&until=2026-11-01T06:15:00.000Z`)
    await across.getByTestId('deliveries-table').waitFor()
    expect([await from(across).inputValue(), await to(across).inputValue()]).toEqual(['2026-11-01T01:45', '2026-11-01T01:15'])
    const acrossAsked = asked(across)
    await filter(across)
    expect(Object.fromEntries(await acrossAsked)).toMatchObject({ since: '2026-11-01T05:45:00.000Z', until: '2026-11-01T06:15:00.000Z' })
    expect(await across.getByText('From must not be later than To.').count()).toBe(0)
    await newYork.close()
    await tokyo.close()
  })

  it('says what is wrong with a filter in the address rather than listing every delivery', async () => {
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await context.newPage()
    const table = page.getByTestId('deliveries-table')
    const refused: [string, RegExp][] = [
      ['?since=2026-13-45&until=garbage', /since: must be an ISO 8601 date-time.*until: must be an ISO 8601 date-time/],
      ['?topic=bad%20topic!!', /topic: must be 1-128 letters/],
      ['?limit=0', /does not take limit in its address/],
      ['?before=garbage', /does not take before in its address/],
    ]
    for (const [query, says] of refused) {
      await page.goto(`${server.url}/admin/deliveries${query}`)
      await expect.poll(() => page.getByRole('alert').textContent(), { message: query }).toMatch(says)
      expect(await table.count(), query).toBe(0)
      expect(Object.fromEntries(new URL(page.url()).searchParams), query).toEqual(Object.fromEntries(new URLSearchParams(query)))
    }
    // Filter lists what the form says, and the address follows it.
    await page.getByRole('button', { name: 'Filter', exact: true }).click()
    await table.waitFor()
    expect(new URL(page.url()).search).toBe('')
    await context.close()
  })
})

describe('dashboard sources', () => {
  it('names a source deleted since it published as deleted, not by a piece of its id', async () => {
    const source = await createActiveSource(admin, 'short-lived', 'ephemeral.*')
    const producer = await datalink(source.token)
    expect(await producer.request({ type: 'publish', topic: 'ephemeral.x', data: { value: 1 } })).toMatchObject({ type: 'ack' })
    await producer.close()
    expect((await admin.delete(`/api/admin/sources/${source.id}`)).status).toBe(204)
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await openLive(context, '/admin')
    const perSource = page.getByTestId('per-source')
    await expect.poll(() => perSource.textContent()).toContain('(deleted source)')
    expect(await perSource.textContent()).not.toContain(source.id.slice(0, 8))
    await context.close()
  })

  it('catches up, back on the dashboard, with a source renamed while the console was left for another page', async () => {
    const source = await createActiveSource(admin, 'away-old-name', 'away.*')
    const producer = await datalink(source.token)
    expect(await producer.request({ type: 'publish', topic: 'away.x', data: { value: 1 } })).toMatchObject({ type: 'ack' })
    await producer.close()
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await context.newPage()
    const consoleSockets: WebSocket[] = []
    page.on('websocket', socket => consoleSockets.push(socket))
    await page.goto(`${server.url}/admin`)
    await page.locator('[data-testid="admin-live"][data-status="open"]').waitFor()
    const perSource = page.getByTestId('per-source')
    await expect.poll(() => perSource.textContent()).toContain('away-old-name')
    // Off to the inbox (the console's socket closes), renamed meanwhile, and back.
    const onConsole = consoleSockets.splice(0)
    await page.getByRole('link', { name: 'Back to app' }).click()
    await page.waitForURL(`${server.url}/`)
    await expect.poll(() => onConsole.every(socket => socket.isClosed())).toBe(true)
    expect((await admin.patch(`/api/admin/sources/${source.id}`, { name: 'away-new-name' })).status).toBe(200)
    const read: string[] = []
    page.on('request', (request) => {
      if (request.url().includes('/api/admin/sources')) read.push(request.url())
    })
    await page.goBack()
    await page.waitForURL(`${server.url}/admin`)
    await expect.poll(() => perSource.textContent()).toContain('away-new-name')
    expect(await perSource.textContent()).not.toContain('away-old-name')
    expect(read).toHaveLength(1)
    // A list page opened again reads its lists once, not once by the page and again by the layout.
    await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Users' }).click()
    await page.waitForURL(`${server.url}/admin/users`)
    await page.getByRole('link', { name: 'Back to app' }).click()
    await page.waitForURL(`${server.url}/`)
    const users: string[] = []
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/admin/users') users.push(request.url())
    })
    await page.goBack()
    await page.waitForURL(`${server.url}/admin/users`)
    await page.getByRole('heading', { name: 'Users' }).first().waitFor()
    await page.waitForLoadState('networkidle')
    expect(users).toHaveLength(1)
    await context.close()
  })

  it('catches up after its socket reconnects with sources deleted or renamed while it was down', async () => {
    const gone = await createActiveSource(admin, 'outage-gone', 'outage.*')
    const renamed = await createActiveSource(admin, 'outage-old-name', 'outage.*')
    for (const source of [gone, renamed]) {
      const producer = await datalink(source.token)
      expect(await producer.request({ type: 'publish', topic: 'outage.x', data: { value: 1 } })).toMatchObject({ type: 'ack' })
      await producer.close()
    }
    const context = await loggedIn('admin', ADMIN_PASSWORD)
    const page = await context.newPage()
    // The console's /channel goes through here: while down, each attempt is closed at once.
    let down = false
    const open: { page: WebSocketRoute, server: WebSocketRoute }[] = []
    await page.routeWebSocket(/\/channel$/, (route) => {
      if (down) return route.close()
      open.push({ page: route, server: route.connectToServer() })
    })
    await page.goto(`${server.url}/admin`)
    const perSource = page.getByTestId('per-source')
    await expect.poll(() => perSource.textContent()).toContain('outage-old-name')
    expect(await perSource.textContent()).toContain('outage-gone')

    down = true
    for (const socket of open.splice(0)) {
      await socket.server.close()
      await socket.page.close()
    }
    await page.getByTestId('admin-live').and(page.locator(':not([data-status="open"])')).waitFor()
    expect((await admin.delete(`/api/admin/sources/${gone.id}`)).status).toBe(204)
    expect((await admin.patch(`/api/admin/sources/${renamed.id}`, { name: 'outage-new-name' })).status).toBe(200)
    down = false

    await expect.poll(() => perSource.textContent(), { timeout: 15_000 }).toContain('outage-new-name')
    expect(await perSource.textContent()).toContain('(deleted source)')
    expect(await perSource.textContent()).not.toContain('outage-old-name')
    expect(await perSource.textContent()).not.toContain('outage-gone')
    await context.close()
  })
})
