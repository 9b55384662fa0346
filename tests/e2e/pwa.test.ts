// The PWA in Chromium against the built server: live feed, push to the service worker, the
// offline inbox, and read state across devices.
import { createECDH, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { ADMIN_PASSWORD, startServer, type RunningServer } from '../helpers/server'
import { holdRequests, launchBrowser, submitLogin } from '../helpers/browser'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createReader, publisher } from '../helpers/fixtures'
import { fieldError } from '../helpers/a11y'

let server: RunningServer
let browser: Browser
let admin: ApiClient
let source: ApiClient
let alice: ApiClient
let aliceId: string

beforeAll(async () => {
  ;[server, browser] = await Promise.all([startServer(), launchBrowser()])
  admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const { token } = await createActiveSource(admin, 'e2e-source', 'alerts.*')
  source = publisher(server.url, token)
  ;({ client: alice, id: aliceId } = await createReader(admin, 'alice', 'alerts.*'))
  // Each test stands alone: the first subscribes through the page, the others use this topic.
  expect((await alice.post('/api/subscriptions', { topic: 'alerts.cpu', push: false })).status).toBe(201)
})

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

/** What has the keyboard focus: BODY when nothing does, else its name (label, test id or text). */
const focused = (page: Page) => page.evaluate(() => {
  const element = document.activeElement
  if (!element || element === document.body) return 'BODY'
  return element.getAttribute('aria-label') || element.getAttribute('data-testid') || element.textContent?.trim()
})

async function loggedIn(context: BrowserContext, username = 'alice', password = 'reader-password'): Promise<Page> {
  const page = await context.newPage()
  await page.goto(`${server.url}/login`)
  await logInHere(page, username, password)
  await live(page)
  return page
}

/** Logs in through the login page this tab shows; resolves once the app is at its inbox. */
async function logInHere(page: Page, username: string, password = 'reader-password') {
  await submitLogin(page, username, password)
  await page.waitForURL(`${server.url}/`)
}

/** The context's cookies as a Cookie header: this browser's session, for requests made aside. */
async function cookieHeader(context: BrowserContext): Promise<string> {
  return (await context.cookies()).map(c => `${c.name}=${c.value}`).join('; ')
}

async function live(page: Page) {
  await page.locator('[data-testid="channel-status"][data-state="live"]').waitFor({ timeout: 10_000 })
}

async function publish(topic: string, title: string, body = '', url?: string) {
  const res = await source.post(`/api/topics/${topic}/messages`, { notification: { title, body, url } })
  expect(res.status).toBe(201)
  return res.body.id as string
}

function nav(page: Page) {
  return page.getByRole('navigation', { name: 'Main' })
}

function item(page: Page, title: string) {
  return page.getByTestId('inbox-item').filter({ hasText: title })
}

/** The inbox page's 'N unread of M'. */
async function counts(page: Page) {
  const text = await page.getByTestId('unread-count').locator('..').textContent()
  return text?.match(/\d+ unread of \d+/)?.[0]
}

/** The ids waiting in this browser's read queue (IndexedDB). */
function queuedReads(page: Page) {
  return storedKeys(page, 'read-queue')
}

/** The keys of one of the app's IndexedDB stores, read from this page. */
function storedKeys(page: Page, store: 'inbox' | 'read-queue') {
  return page.evaluate(store => new Promise<string[]>((resolve, reject) => {
    const open = indexedDB.open('mercury')
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const keys = open.result.transaction(store).objectStore(store).getAllKeys()
      keys.onsuccess = () => {
        open.result.close()
        resolve(keys.result.map(String))
      }
      keys.onerror = () => reject(keys.error)
    }
  }), store)
}

/** Keeps every inbox title ever rendered in the context's pages, however briefly (`seenTitles`). */
function watchTitles(context: BrowserContext) {
  return context.addInitScript(() => {
    const seen = new Set<string>()
    ;(window as unknown as { seenTitles: Set<string> }).seenTitles = seen
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('[data-testid="inbox-item"] h3, [data-testid="inbox-item"]')) seen.add(el.textContent ?? '')
    }).observe(document, { childList: true, subtree: true, characterData: true })
  })
}

/** Every inbox title the page has rendered since it loaded, one a line. */
function seenTitles(page: Page) {
  return page.evaluate(() => [...(window as unknown as { seenTitles: Set<string> }).seenTitles].join('\n'))
}

/**
 * Pushes to the context's service worker through the DevTools protocol, as the push service
 * would; the session lives on a page of its own (the manifest), so the app's pages can close.
 */
async function serviceWorkerPush(context: BrowserContext) {
  const helper = await context.newPage()
  await helper.goto(`${server.url}/manifest.webmanifest`)
  const cdp = await context.newCDPSession(helper)
  const registration = new Promise<string>((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const found = registrations.find(r => r.scopeURL.startsWith(server.url) && !r.isDeleted)
      if (found) resolve(found.registrationId)
    })
  })
  await cdp.send('ServiceWorker.enable')
  const registrationId = await registration
  const worker = context.serviceWorkers()[0] ?? await context.waitForEvent('serviceworker')
  return {
    helper,
    deliver: (payload: object) => cdp.send('ServiceWorker.deliverPushMessage', { origin: server.url, registrationId, data: JSON.stringify(payload) }),
    /** The notifications on screen: title and body. */
    shown: () => worker.evaluate(async () => {
      const shown = await (self as unknown as ServiceWorkerGlobalScope).registration.getNotifications()
      return shown.map(n => `${n.title}|${n.body}`)
    }),
  }
}

describe('the PWA', () => {
  it('subscribes through the topics page; a published message shows live and in the inbox within a second', async () => {
    const context = await browser.newContext()
    const page = await loggedIn(context)
    await nav(page).getByRole('link', { name: 'Topics' }).click()
    await page.getByLabel('Subscribe to a topic by name').fill('alerts.disk')
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click()
    await page.locator('[data-testid="topic-row"][data-topic="alerts.disk"]').getByRole('button', { name: 'Unsubscribe from alerts.disk' }).waitFor()

    const livePage = await context.newPage()
    await livePage.goto(`${server.url}/live/alerts.disk`)
    await live(livePage)
    await nav(page).getByRole('link', { name: 'Inbox' }).click()
    await live(page)

    const started = Date.now()
    await publish('alerts.disk', 'Disk almost full', 'sda1 is at 97%')
    await Promise.all([
      livePage.getByTestId('live-message').filter({ hasText: 'Disk almost full' }).waitFor({ timeout: 1000 }),
      item(page, 'Disk almost full').waitFor({ timeout: 1000 }),
    ])
    expect(Date.now() - started).toBeLessThan(1000)
    await expect.poll(() => item(page, 'Disk almost full').getAttribute('data-read')).toBe('false')

    // A live view of a topic the user may not read says so instead of waiting forever.
    await livePage.goto(`${server.url}/live/secret.topic`)
    await expect.poll(() => livePage.getByTestId('live-refused').textContent(), { timeout: 5000 }).toMatch(/no read access to "secret\.topic"/)
    await context.close()
  })

  it('a live view whose read access is taken says so, and follows again once it is given back', async () => {
    const dora = await createReader(admin, 'dora', null)
    const grant = async () => {
      const res = await admin.post('/api/admin/grants', { userId: dora.id, topic: 'alerts.ops', read: true })
      expect(res.status).toBe(201)
      return res.body.id as string
    }
    const first = await grant()
    const context = await browser.newContext()
    const page = await loggedIn(context, 'dora')
    await page.goto(`${server.url}/live/alerts.ops`)
    await live(page)
    await expect.poll(async () => {
      await publish('alerts.ops', 'Load 1')
      return page.getByTestId('live-message').filter({ hasText: 'Load 1' }).count()
    }).toBeGreaterThan(0)
    expect((await admin.delete(`/api/admin/grants/${first}`)).status).toBe(204)
    await expect.poll(() => page.getByTestId('live-refused').textContent(), { timeout: 5000 }).toMatch(/no read access to "alerts\.ops"/)
    await grant()
    await page.getByRole('button', { name: 'Try again' }).click()
    await expect.poll(async () => {
      await publish('alerts.ops', 'Load 2')
      return page.getByTestId('live-message').filter({ hasText: 'Load 2' }).count()
    }).toBeGreaterThan(0)
    await context.close()
  })

  it('stores a push in the inbox and shows a notification with the app closed', async () => {
    const context = await browser.newContext()
    await context.grantPermissions(['notifications'], { origin: server.url })
    const page = await loggedIn(context)
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true))

    const { helper, deliver, shown } = await serviceWorkerPush(context)
    await page.close()

    const payload = { user: aliceId, id: 'push-only-1', topic: 'alerts.disk', title: 'Pushed while closed', body: 'from the push service', url: '/topics', priority: 4, createdAt: new Date().toISOString() }
    await deliver(payload)
    await expect.poll(shown, { timeout: 5000 }).toContain('Pushed while closed|from the push service')

    // The snapshot the app shows first on its next start has it too (not only the full inbox).
    await expect.poll(() => helper.evaluate(() => new Promise<string | undefined>((resolve, reject) => {
      const open = indexedDB.open('mercury')
      open.onerror = () => reject(open.error)
      open.onsuccess = () => {
        const get = open.result.transaction('meta').objectStore('meta').get('snapshot')
        get.onsuccess = () => {
          open.result.close()
          resolve((get.result as { items: { id: string }[] } | undefined)?.items[0]?.id)
        }
        get.onerror = () => reject(get.error)
      }
    })), { timeout: 5000 }).toBe('push-only-1')

    const reopened = await context.newPage()
    await reopened.goto(`${server.url}/`)
    await item(reopened, 'Pushed while closed').waitFor({ timeout: 5000 })

    // Logged out, a push still on its way is stored in nobody's inbox and shows nothing of its own.
    await reopened.getByRole('button', { name: 'Log out' }).click()
    await reopened.waitForURL(/\/login$/)
    // What the user's pushes left on screen goes with the logout: the next user cannot open it.
    await expect.poll(shown, { timeout: 5000 }).not.toContain('Pushed while closed|from the push service')
    const late = { ...payload, id: 'push-after-logout', title: 'Pushed after the logout' }
    await deliver(late)
    await expect.poll(shown, { timeout: 5000 }).toContain('Mercury|')
    expect((await shown()).join('\n')).not.toMatch(/Pushed|from the push service/)
    expect(await storedKeys(helper, 'inbox')).not.toContain('push-after-logout')
    await context.close()
  })

  it('opens offline with every stored notification, and reads made offline reach the server', async () => {
    const context = await browser.newContext()
    const page = await loggedIn(context)
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true))
    const ids = [await publish('alerts.cpu', 'Offline one'), await publish('alerts.cpu', 'Offline two'), await publish('alerts.cpu', 'Offline three')]
    await item(page, 'Offline three').waitFor()
    // Everything of alice's inbox on the server, earlier tests' notifications included: the first
    // sync may still be bringing those in after the live ones showed.
    const stored = (await alice.get('/api/inbox')).body.items.length as number
    expect(stored).toBeGreaterThanOrEqual(3)
    await expect.poll(() => page.getByTestId('inbox-item').count()).toBe(stored)

    await context.setOffline(true)
    const worker = context.serviceWorkers()[0]!
    const reach = () => fetch('/api/health').then(() => 'online', () => 'offline')
    expect(await page.evaluate(reach)).toBe('offline')
    expect(await worker.evaluate(reach)).toBe('offline')
    const reloaded = await page.reload()
    expect(reloaded?.fromServiceWorker()).toBe(true)
    await item(page, 'Offline two').waitFor({ timeout: 10_000 })
    await expect.poll(() => page.getByTestId('inbox-item').count()).toBe(stored)
    await page.locator('[data-testid="channel-status"][data-state="offline"]').waitFor()

    await item(page, 'Offline two').getByRole('button', { name: /^Mark read/ }).click()
    await expect.poll(() => item(page, 'Offline two').getAttribute('data-read')).toBe('true')
    await page.getByTestId('pending-reads').waitFor()
    const whileOffline = await alice.get('/api/inbox')
    expect(whileOffline.body.items.find((i: { id: string }) => i.id === ids[1]).readAt).toBeNull()
    // Published while this page, opened offline, could not sync.
    await publish('alerts.cpu', 'Published while away')
    // The topics page cannot load its lists offline: it says so, and shows none as empty.
    await nav(page).getByRole('link', { name: 'Topics' }).click()
    await page.getByText('You are offline.').waitFor()
    expect(await page.getByText('None yet.').count()).toBe(0)
    await nav(page).getByRole('link', { name: 'Inbox' }).click()
    await item(page, 'Offline two').waitFor()

    const sent: unknown[] = []
    page.on('request', (req) => {
      if (req.url().endsWith('/api/inbox/read')) sent.push(req.postDataJSON())
    })
    await context.setOffline(false)
    await item(page, 'Published while away').waitFor({ timeout: 10_000 })
    await expect.poll(() => page.getByText('Offline: showing what is stored').count()).toBe(0)
    await expect.poll(async () => {
      const res = await alice.get('/api/inbox')
      return res.body.items.find((i: { id: string }) => i.id === ids[1]).readAt
    }, { timeout: 10_000 }).not.toBeNull()
    const after = await alice.get('/api/inbox')
    expect(after.body.items.find((i: { id: string }) => i.id === ids[0]).readAt).toBeNull()
    expect(sent).toEqual([{ ids: [ids[1]] }])

    // "Mark all read" offline takes what this page showed then, not what is published before it
    // reaches the server.
    await context.setOffline(true)
    await page.locator('[data-testid="channel-status"][data-state="offline"]').waitFor()
    const unseen = await publish('alerts.cpu', 'Published after mark all read')
    await page.getByTestId('read-all').click()
    await expect.poll(() => page.getByTestId('unread-count').textContent()).toBe('0')
    await page.getByTestId('pending-reads').waitFor()
    await context.setOffline(false)
    await item(page, 'Published after mark all read').waitFor({ timeout: 10_000 })
    await expect.poll(async () => (await alice.get('/api/inbox?unread=true')).body.items.map((i: { id: string }) => i.id), { timeout: 10_000 })
      .toEqual([unseen])
    expect(await item(page, 'Published after mark all read').getAttribute('data-read')).toBe('false')
    expect(await item(page, 'Offline three').getAttribute('data-read')).toBe('true')
    await context.close()
  })

  it('a tab that reconnects leaves a subscription deleted elsewhere meanwhile, and misses nothing of the others', async () => {
    const dora = (await createReader(admin, 'dora-e2e', 'alerts.*')).client
    for (const topic of ['alerts.keep', 'alerts.gone']) {
      expect((await dora.post('/api/subscriptions', { topic, push: false })).status).toBe(201)
    }
    const context = await browser.newContext()
    // The page's sockets, and a switch that makes new ones fail (a connection that cannot come back).
    await context.addInitScript(() => {
      const Native = WebSocket
      const w = window as unknown as { sockets: WebSocket[], blockSockets: boolean }
      w.sockets = []
      w.blockSockets = false
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(w.blockSockets ? 'ws://127.0.0.1:9/' : url, protocols)
          w.sockets.push(this)
        }
      }
    })
    const page = await loggedIn(context, 'dora-e2e', 'reader-password')
    await page.evaluate(() => {
      const w = window as unknown as { sockets: WebSocket[], blockSockets: boolean }
      w.blockSockets = true
      w.sockets.at(-1)!.close()
    })
    await page.locator('[data-testid="channel-status"][data-state="reconnecting"]').waitFor()
    expect((await dora.delete('/api/subscriptions/alerts.gone')).status).toBe(204)
    await publish('alerts.keep', 'Kept while away')
    await page.evaluate(() => {
      (window as unknown as { blockSockets: boolean }).blockSockets = false
    })
    await live(page)
    await publish('alerts.gone', 'Not followed any more')
    await publish('alerts.keep', 'Kept after')
    await item(page, 'Kept after').waitFor({ timeout: 10_000 })
    await item(page, 'Kept while away').waitFor()
    await page.reload() // what the inbox stored, not only what the tab showed
    await item(page, 'Kept after').waitFor()
    expect(await item(page, 'Not followed any more').count()).toBe(0)
    await context.close()
  })

  it('subscribing to a topic whose live view is open brings its notifications into the inbox from then on', async () => {
    const ivy = (await createReader(admin, 'ivy-e2e', 'alerts.*')).client
    const context = await browser.newContext()
    const page = await loggedIn(context, 'ivy-e2e', 'reader-password')
    await page.goto(`${server.url}/live/alerts.viewed`)
    await live(page)
    await publish('alerts.viewed', 'Only in the live view')
    await page.getByText('Only in the live view').waitFor()
    expect((await ivy.post('/api/subscriptions', { topic: 'alerts.viewed', push: false })).status).toBe(201)
    await expect.poll(async () => (await ivy.get('/api/subscriptions')).body.length).toBe(1)
    await publish('alerts.viewed', 'Subscribed now')
    await page.getByText('Subscribed now').waitFor()
    await nav(page).getByRole('link', { name: 'Inbox' }).click()
    await item(page, 'Subscribed now').waitFor({ timeout: 5000 })
    expect(await item(page, 'Only in the live view').count()).toBe(0)
    await context.close()
  })

  it('a long body, line breaks included, can be read in full; a short one has nothing to expand', async () => {
    const lines = ['Disk /dev/sda1 at 97%', 'Largest: /var/log (41 GB)', 'Then: /home (12 GB)', 'Last line: rotate the logs']
    await publish('alerts.cpu', 'Long report', lines.join('\n'))
    await publish('alerts.cpu', 'Short report', 'All fine')
    const context = await browser.newContext()
    const page = await loggedIn(context)
    const long = item(page, 'Long report')
    await long.waitFor()
    const body = long.locator('.inbox-body')
    const clampedHeight = (await body.boundingBox())!.height
    expect(await item(page, 'Short report').getByRole('button', { name: 'Show more' }).count()).toBe(0)
    await long.getByRole('button', { name: 'Show more' }).click()
    await expect.poll(async () => (await body.boundingBox())!.height).toBeGreaterThan(clampedHeight * 1.5)
    // Shown as four lines, as sent.
    expect((await body.innerText()).trim().split('\n')).toEqual(lines)
    await long.getByRole('button', { name: 'Show less' }).click()
    await expect.poll(async () => (await body.boundingBox())!.height).toBe(clampedHeight)

    // The live view keeps the lines too, and words longer than the screen wrap inside it.
    await page.setViewportSize({ width: 375, height: 700 })
    await page.goto(`${server.url}/live/alerts.cpu`)
    await live(page)
    await publish('alerts.cpu', 'W'.repeat(200), `${'y'.repeat(1000)}\n${lines.join('\n')}`)
    const message = page.getByTestId('live-message').filter({ hasText: 'WWWW' })
    await message.waitFor()
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375)
    expect((await message.locator('.live-body').innerText()).trim().split('\n').slice(1)).toEqual(lines)
    await context.close()
  })

  it('follows the stored subscriptions the server joins on a fresh page from the join at once', async () => {
    // The server holds a joined topic's live messages a moment for a client resuming it with its
    // own offset; a page without offsets subscribes from the join, so nothing waits.
    const context = await browser.newContext()
    const sent: string[] = []
    context.on('page', page => page.on('websocket', (ws) => {
      if (ws.url().endsWith('/channel')) ws.on('framesent', frame => sent.push(String(frame.payload)))
    }))
    const page = await loggedIn(context)
    await expect.poll(() => sent.map(text => JSON.parse(text)).find(f => f.type === 'subscribe' && f.topic === 'alerts.cpu')).toMatchObject({ since: expect.any(Number) })
    await publish('alerts.cpu', 'Right after the start')
    await item(page, 'Right after the start').waitFor()
    await context.close()
  })

  it('right-to-left titles and bodies read right to left, next to left-to-right ones', async () => {
    await publish('alerts.cpu', 'שלום עולם', 'הדיסק מלא: 97%')
    await publish('alerts.cpu', 'Hello world', 'Disk full: 97%')
    const context = await browser.newContext()
    const page = await loggedIn(context)
    const direction = (locator: ReturnType<Page['locator']>) => locator.evaluate(el => getComputedStyle(el).direction)
    await item(page, 'שלום עולם').waitFor()
    await item(page, 'Hello world').waitFor()
    expect(await direction(item(page, 'שלום עולם').locator('.inbox-title'))).toBe('rtl')
    expect(await direction(item(page, 'שלום עולם').locator('.inbox-body'))).toBe('rtl')
    expect(await direction(item(page, 'Hello world').locator('.inbox-title'))).toBe('ltr')
    expect(await direction(item(page, 'Hello world').locator('.inbox-body'))).toBe('ltr')
    await page.goto(`${server.url}/live/alerts.cpu`)
    await live(page)
    await publish('alerts.cpu', 'מעבד עמוס', 'עומס 9.5')
    const message = page.getByTestId('live-message').filter({ hasText: 'מעבד עמוס' })
    await message.waitFor()
    expect(await direction(message.locator('.live-title'))).toBe('rtl')
    expect(await direction(message.locator('.live-body'))).toBe('rtl')
    await context.close()
  })

  it('a topic name of the longest kind stays inside the page: inbox, its filter and the live view, at 390 and 1280 px', async () => {
    const topic = `alerts.${'long'.repeat(30)}` // 127 characters, one word
    const reader = (await createReader(admin, 'longtopics', 'alerts.*')).client
    expect((await reader.post('/api/subscriptions', { topic, push: false })).status).toBe(201)
    await publish(topic, 'About a long topic')
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    const page = await loggedIn(context, 'longtopics')
    const overflow = () => page.evaluate(() => document.scrollingElement!.scrollWidth)
    await item(page, 'About a long topic').waitFor()
    expect(await overflow()).toBeLessThanOrEqual(390)
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 844 })
      await page.goto(`${server.url}/live/${topic}`)
      await live(page)
      await page.getByRole('heading', { name: topic }).waitFor()
      // An event name of the longest kind (64 characters, one word) in the message's line too.
      expect((await source.post(`/api/topics/${topic}/messages`, { event: 'E'.repeat(64), data: width })).status).toBe(201)
      await page.getByTestId('live-message').filter({ hasText: 'E'.repeat(64) }).first().waitFor()
      expect(await overflow(), `live view at ${width} px`).toBeLessThanOrEqual(width)
    }
    await context.close()
  })

  it('a read on one device turns read on another within a second', async () => {
    const first = await browser.newContext()
    const second = await browser.newContext()
    const [a, b] = await Promise.all([loggedIn(first), loggedIn(second)])
    await publish('alerts.cpu', 'Read me on one device')
    await Promise.all([item(a, 'Read me on one device').waitFor(), item(b, 'Read me on one device').waitFor()])
    expect(await item(b, 'Read me on one device').getAttribute('data-read')).toBe('false')

    await item(a, 'Read me on one device').getByRole('button', { name: /^Mark read/ }).click()
    await b.locator('[data-testid="inbox-item"][data-read="true"]').filter({ hasText: 'Read me on one device' }).waitFor({ timeout: 1000 })
    await Promise.all([first.close(), second.close()])
  })

  it('with filters on, the read button marks only the notifications shown, and says so', async () => {
    const erin = (await createReader(admin, 'erin', 'alerts.*')).client
    for (const topic of ['alerts.fan', 'alerts.heat']) {
      expect((await erin.post('/api/subscriptions', { topic, push: false })).status).toBe(201)
    }
    const titles = ['Fan slow north', 'Fan slow south', 'Fan stopped', 'Heat slow north', 'Heat high']
    for (const title of titles) await publish(title.startsWith('Fan') ? 'alerts.fan' : 'alerts.heat', title)
    const alreadyRead = (await erin.get('/api/inbox?q=stopped')).body.items[0].id
    expect((await erin.post('/api/inbox/read', { ids: [alreadyRead] })).status).toBe(200)
    const context = await browser.newContext()
    const page = await loggedIn(context, 'erin', 'reader-password')
    await expect.poll(() => page.getByTestId('inbox-item').count()).toBe(5)
    await expect.poll(() => page.getByTestId('unread-count').textContent()).toBe('4')
    const button = page.getByTestId('read-all')
    await expect.poll(() => button.textContent()).toContain('Mark all read')

    await page.getByLabel('Search').fill('slow')
    await page.getByLabel('Topic').selectOption('alerts.fan')
    await page.getByLabel('Unread only').check()
    await expect.poll(() => page.getByTestId('inbox-item').count()).toBe(2)
    await expect.poll(() => button.textContent()).toContain('Mark these read')
    const sent = page.waitForRequest(req => req.url().endsWith('/api/inbox/read')).then(req => req.postDataJSON())
    await button.click()
    expect((await sent).ids).toHaveLength(2)
    await expect.poll(() => page.getByTestId('unread-count').textContent()).toBe('2')
    await expect.poll(async () => (await erin.get('/api/inbox?unread=true')).body.items.map((i: { title: string }) => i.title).sort())
      .toEqual(['Heat high', 'Heat slow north'])
    await expect.poll(() => button.isDisabled()).toBe(true)

    // Filters cleared: the whole inbox again.
    await page.getByLabel('Search').fill('')
    await page.getByLabel('Topic').selectOption('')
    await page.getByLabel('Unread only').uncheck()
    await expect.poll(() => button.textContent()).toContain('Mark all read')
    await button.click()
    await expect.poll(() => page.getByTestId('unread-count').textContent()).toBe('0')
    await expect.poll(async () => (await erin.get('/api/inbox')).body.unread).toBe(0)
    await context.close()
  })

  it('topics page: each push switch is named after its topic, subscribing again keeps push off, and one message at a time', async () => {
    await publish('alerts.cpu', 'Only one of its kind')
    const context = await browser.newContext()
    const page = await loggedIn(context)
    await item(page, 'Only one of its kind').waitFor()
    await page.getByLabel('Search').fill('Only one of its kind')
    await page.getByText('1 notification shown', { exact: true }).waitFor({ state: 'attached' })

    await nav(page).getByRole('link', { name: 'Topics' }).click()
    const cpuPush = page.getByRole('switch', { name: 'Push for alerts.cpu', exact: true })
    await cpuPush.waitFor()
    expect(await cpuPush.isChecked()).toBe(false)
    const status = page.getByTestId('topics-status')
    const byName = page.getByLabel('Subscribe to a topic by name')
    const subscribeButton = page.getByRole('button', { name: 'Subscribe', exact: true })

    // alerts.cpu is followed with push off: subscribing to it by name leaves push off.
    await byName.fill('alerts.cpu')
    await subscribeButton.click()
    await expect.poll(() => status.textContent()).toContain('alerts.cpu')
    expect(await cpuPush.isChecked()).toBe(false)
    const subscriptions = (await alice.get('/api/subscriptions')).body as { topic: string, push: boolean }[]
    expect(subscriptions.find(s => s.topic === 'alerts.cpu')?.push).toBe(false)
    // Subscribed on another device meanwhile with push off (this page, loaded before, does not
    // know): subscribing by name here keeps that choice.
    expect((await alice.post('/api/subscriptions', { topic: 'alerts.elsewhere', push: false })).status).toBe(201)
    await byName.fill('alerts.elsewhere')
    await subscribeButton.click()
    await expect.poll(() => status.textContent()).toContain('Subscribed to alerts.elsewhere, push off')
    const after = (await alice.get('/api/subscriptions')).body as { topic: string, push: boolean }[]
    expect(after.find(s => s.topic === 'alerts.elsewhere')?.push).toBe(false)

    // A validation error replaces the last status, and the next status replaces the error.
    await byName.fill('not a topic!')
    await subscribeButton.click()
    const invalid = page.getByText('A topic is 1–128 letters')
    await invalid.waitFor()
    expect((await status.textContent())?.trim()).toBe('')
    await cpuPush.click()
    await expect.poll(() => status.textContent()).toContain('Subscribed to alerts.cpu, with push')
    expect(await invalid.count()).toBe(0)
    await cpuPush.click()
    await expect.poll(() => status.textContent()).toContain('Subscribed to alerts.cpu, push off')
    expect(await cpuPush.isChecked()).toBe(false)

    // A change that fails leaves the switch as it is stored, and says why.
    await page.route('**/api/subscriptions', route => route.fulfill({ status: 503, contentType: 'application/json', body: '{"statusCode":503,"message":"The database is unavailable; retry shortly"}' }))
    await cpuPush.click()
    await page.getByText('The database is unavailable; retry shortly').waitFor()
    await expect.poll(() => cpuPush.isDisabled()).toBe(false)
    expect(await cpuPush.isChecked()).toBe(false)
    await page.unroute('**/api/subscriptions')
    await cpuPush.click()
    await expect.poll(() => cpuPush.isChecked()).toBe(true)
    await context.close()
  })

  it('a tab that syncs while another tab stores the same notifications shows all of them', async () => {
    const { client } = await createReader(admin, 'tabs-e2e', 'alerts.*')
    expect((await client.post('/api/subscriptions', { topic: 'alerts.tabs', push: false })).status).toBe(201)
    for (const n of [1, 2, 3]) await publish('alerts.tabs', `Before ${n}`)
    const context = await browser.newContext()
    const first = await loggedIn(context, 'tabs-e2e')
    await item(first, 'Before 3').waitFor()
    await first.goto('about:blank')
    await Promise.all(Array.from({ length: 40 }, (_, n) => publish('alerts.tabs', `Away ${n + 1}`)))
    const onServer = await client.get('/api/inbox')
    expect(onServer.body.nextBefore).toBeNull()
    const expected = `${onServer.body.unread} unread of ${onServer.body.items.length}`
    expect(expected).toBe('43 unread of 43')

    // Two tabs open at once, made deterministic: tab B has read the local inbox (3 items) and
    // asked the server; its answer comes only once tab A has stored all 43.
    const b = await context.newPage()
    let release!: () => void
    const released = new Promise<void>(resolve => (release = resolve))
    let asked!: () => void
    const syncStarted = new Promise<void>(resolve => (asked = resolve))
    await b.route(url => url.pathname === '/api/inbox', async (route) => {
      asked()
      await released
      await route.continue()
    })
    await b.goto(`${server.url}/`)
    await syncStarted
    await expect.poll(() => counts(b)).toBe('3 unread of 3')
    const a = await context.newPage()
    await a.goto(`${server.url}/`)
    await expect.poll(() => counts(a), { timeout: 10_000 }).toBe(expected)
    release()
    await expect.poll(() => counts(b), { timeout: 5000 }).toBe(expected)
    await item(b, 'Away 40').waitFor()
    await context.close()
  })

  it('opening a notification that links into the app marks it read on the server, once, without reloading the app', async () => {
    const context = await browser.newContext()
    const page = await loggedIn(context)
    const reads: unknown[] = []
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/inbox/read') reads.push(request.postDataJSON())
    })
    const id = await publish('alerts.cpu', 'See your devices', 'a device was added', '/devices')
    await item(page, 'See your devices').waitFor()
    await page.evaluate(() => ((window as unknown as { sameApp: boolean }).sameApp = true))

    await item(page, 'See your devices').getByRole('link', { name: 'See your devices' }).click()
    await page.getByRole('heading', { name: 'Push on this device' }).waitFor()
    expect(new URL(page.url()).pathname).toBe('/devices')
    await expect.poll(async () => {
      const res = await alice.get('/api/inbox')
      return res.body.items.find((i: { id: string }) => i.id === id).readAt
    }, { timeout: 5000 }).not.toBeNull()
    await expect.poll(() => queuedReads(page)).toEqual([])
    expect(reads).toEqual([{ ids: [id] }])
    expect(await page.evaluate(() => (window as unknown as { sameApp?: boolean }).sameApp)).toBe(true)

    await nav(page).getByRole('link', { name: 'Inbox' }).click()
    await expect.poll(() => item(page, 'See your devices').getAttribute('data-read')).toBe('true')
    expect(reads).toHaveLength(1)
    await context.close()
  })

  it('another user logging in on the same browser never sees the first one\'s inbox, not even while it loads', async () => {
    const bob = (await createReader(admin, 'bob-e2e', 'alerts.*')).client
    expect((await bob.post('/api/subscriptions', { topic: 'alerts.bob', push: false })).status).toBe(201)
    await source.post('/api/topics/alerts.bob/messages', { notification: { title: 'For bob only' } })
    const context = await browser.newContext()
    await watchTitles(context)
    const page = await loggedIn(context)
    await publish('alerts.cpu', 'Private to alice')
    await item(page, 'Private to alice').waitFor()
    // The sync of the next start is answered only after the logout: a late answer for alice must
    // be neither stored nor shown.
    let fetched!: () => void
    const syncAsked = new Promise<void>(resolve => (fetched = resolve))
    let release!: () => void
    const released = new Promise<void>(resolve => (release = resolve))
    let answered = false
    await page.route(url => url.pathname === '/api/inbox', async (route) => {
      const response = await route.fetch()
      fetched()
      await released
      await route.fulfill({ response })
      answered = true
    }, { times: 1 })
    await page.reload() // alice's snapshot is written and shown on this start
    await item(page, 'Private to alice').waitFor()
    await syncAsked
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(/\/login$/)
    release()
    await expect.poll(() => answered).toBe(true)
    await page.waitForTimeout(200) // the app's handling of that answer
    const titles = () => seenTitles(page)
    await page.evaluate(() => (window as unknown as { seenTitles: Set<string> }).seenTitles.clear())
    await logInHere(page, 'bob-e2e')
    await item(page, 'For bob only').waitFor()
    let seen = await titles()
    await page.reload()
    await item(page, 'For bob only').waitFor()
    seen += await titles()
    expect(seen).toContain('For bob only')
    expect(seen).not.toContain('Private to alice')
    await context.close()
  })

  /** Logs `username` in on `page`, which shows the login form. */
  async function logIn(page: Page, username: string) {
    await logInHere(page, username)
    await live(page)
  }

  it.each([
    ['hears of it at once', 'heard', false, false],
    // Deaf to storage events (as if held back): the inbox in IndexedDB, bob's now, is checked
    // before each write.
    ['has not heard of it yet', 'deaf', true, false],
    // Or the session, asked again as the tab comes into view, is bob's.
    ['has not heard of it yet but comes into view', 'back', true, true],
  ])('a tab left open by one user that %s when another user logs in on a second tab stops, and none of its live messages reach the other\'s inbox', async (_, tag, deaf, comesBack) => {
    const bob = await createReader(admin, `bob-tabs-${tag}`, 'alerts.*')
    expect((await bob.client.post('/api/subscriptions', { topic: 'alerts.bobtabs', push: false })).status).toBe(201)
    const context = await browser.newContext()
    await watchTitles(context)
    // The second tab is on the login page before alice logs in on the first.
    const second = await context.newPage()
    await second.goto(`${server.url}/login`)
    await second.getByLabel('Username').waitFor()
    const first = await context.newPage()
    if (deaf) {
      await first.addInitScript(() => {
        const listen = EventTarget.prototype.addEventListener
        window.addEventListener = ((...args: Parameters<typeof listen>) => {
          if (args[0] !== 'storage') listen.apply(window, args)
        }) as typeof window.addEventListener
      })
    }
    await first.goto(`${server.url}/login`)
    await logIn(first, 'alice')
    const before = await publish('alerts.cpu', `Alice before bob ${tag}`)
    await item(first, `Alice before bob ${tag}`).waitFor()
    await first.waitForTimeout(500) // alice's tab is idle: its snapshot of the inbox is written

    await logIn(second, `bob-tabs-${tag}`)
    if (comesBack) {
      await first.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true })
        document.dispatchEvent(new Event('visibilitychange'))
      })
    }
    if (!deaf || comesBack) await first.waitForURL(/\/login$/, { timeout: 2000 })
    // A notification only alice subscribes to: her tab's /channel, if still open, would get it.
    const after = await publish('alerts.cpu', `Alice after bob ${tag}`)
    await first.waitForURL(/\/login$/, { timeout: 5000 })
    await source.post('/api/topics/alerts.bobtabs/messages', { notification: { title: `For bob ${tag}` } })
    await item(second, `For bob ${tag}`).waitFor()
    await second.waitForTimeout(500) // what alice's tab would do with her message, had it come
    expect(await first.getByTestId('session-ended').textContent()).toContain('Your session has ended')

    const keys = await storedKeys(second, 'inbox')
    expect(keys).not.toContain(before)
    expect(keys).not.toContain(after)
    let seen = await seenTitles(second)
    await second.reload()
    await item(second, `For bob ${tag}`).waitFor()
    seen += await seenTitles(second)
    expect(seen).toContain(`For bob ${tag}`)
    expect(seen).not.toContain('Alice')
    expect(await seenTitles(first)).not.toContain(`Alice after bob ${tag}`)
    expect(await storedKeys(second, 'inbox')).not.toContain(after)
    await context.close()
  })

  it('a tab whose session answer comes late, after another user logged in on a second tab, leaves; the other user stays', async () => {
    const bob = await createReader(admin, 'bob-late-answer', 'alerts.*')
    const context = await browser.newContext()
    const second = await context.newPage()
    await second.goto(`${server.url}/login`)
    await second.getByLabel('Username').waitFor()
    const first = await loggedIn(context)
    // A third tab loads while alice is logged in: its session is answered for alice, but that
    // answer reaches the page only after bob logged in on the second tab.
    const late = await context.newPage()
    let asked!: () => void
    const answered = new Promise<void>(resolve => (asked = resolve))
    let release!: () => void
    const released = new Promise<void>(resolve => (release = resolve))
    await late.route(url => url.pathname === '/api/_auth/session', async (route) => {
      const response = await route.fetch()
      asked()
      await released
      await route.fulfill({ response })
    }, { times: 1 })
    const loading = late.goto(`${server.url}/`)
    await answered
    await logIn(second, 'bob-late-answer')
    await first.waitForURL(/\/login$/) // alice's tab heard of bob's login
    release()
    await loading
    await second.waitForTimeout(1000) // what a stale user remembered by the late tab would do
    expect(second.url()).toBe(`${server.url}/`)
    expect(await second.getByTestId('whoami').textContent()).toContain('bob-late-answer')
    await live(second)
    expect(await second.evaluate(() => JSON.parse(localStorage.getItem('mercury-user')!).id)).toBe(bob.id)
    // The late tab, shown alice's while the browser is bob's, leaves.
    await late.waitForURL(/\/login$/, { timeout: 5000 })
    expect(await late.getByTestId('session-ended').textContent()).toContain('Your session has ended')
    await context.close()
  })

  it('a login whose session check gets no answer opens the inbox all the same, after a few seconds', async () => {
    await createReader(admin, 'stalled-check', 'alerts.*')
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${server.url}/login`)
    await page.getByLabel('Username').waitFor()
    // After the login, the tab asks again who is logged in before it opens the inbox: that answer never comes.
    let asked = 0
    await page.route(url => url.pathname === '/api/_auth/session', async (route) => {
      if (++asked >= 2) return // left unanswered
      await route.continue()
    })
    await logInHere(page, 'stalled-check')
    await live(page)
    expect(asked).toBeGreaterThanOrEqual(2)
    expect(await page.evaluate(() => JSON.parse(localStorage.getItem('mercury-user')!).username)).toBe('stalled-check')
    await context.close()
  })

  it('a tab of the same user stays when another tab clears localStorage, and remembers its user again', async () => {
    const context = await browser.newContext()
    const first = await loggedIn(context)
    const second = await context.newPage()
    await second.goto(`${server.url}/`)
    await live(second)
    await second.evaluate(() => localStorage.clear())
    await first.waitForTimeout(1000) // the session asked again
    expect(first.url()).toBe(`${server.url}/`)
    await live(first)
    // Remembered for an offline start.
    await expect.poll(() => first.evaluate(() => JSON.parse(localStorage.getItem('mercury-user') ?? '{}').id)).toBe(aliceId)
    await context.close()
  })

  it('a push for the previous user, arriving after another user logged in, goes in no inbox and shows nothing of its own', async () => {
    const bob = await createReader(admin, 'bob-push', 'alerts.*')
    const context = await browser.newContext()
    await context.grantPermissions(['notifications'], { origin: server.url })
    const page = await loggedIn(context)
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true))
    const { deliver, shown } = await serviceWorkerPush(context)
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(/\/login$/)
    await logIn(page, 'bob-push')

    const payload = { topic: 'alerts.disk', body: 'private to its user', url: '/topics', priority: 3, createdAt: new Date().toISOString() }
    // Alice's push, retried after bob logged in; then one of bob's, which his inbox takes.
    await deliver({ ...payload, user: aliceId, id: 'late-for-alice', title: 'Late push for alice' })
    await deliver({ ...payload, user: bob.id, id: 'push-for-bob', title: 'Push for bob' })
    await item(page, 'Push for bob').waitFor({ timeout: 5000 })
    await expect.poll(shown, { timeout: 5000 }).toContain('Push for bob|private to its user')
    const keys = await storedKeys(page, 'inbox')
    expect(keys).toContain('push-for-bob')
    expect(keys).not.toContain('late-for-alice')
    // Something shows for every push; for alice's, only the app's name.
    expect(await shown()).toContain('Mercury|')
    expect((await shown()).join('\n')).not.toContain('Late push for alice')
    await page.reload()
    await item(page, 'Push for bob').waitFor()
    expect(await item(page, 'Late push for alice').count()).toBe(0)
    await context.close()
  })

  /** A context whose browser has a push subscription at `endpoint` (headless Chromium cannot reach a push service). */
  async function withPushSubscription(endpoint: string) {
    const context = await browser.newContext()
    await context.addInitScript((endpoint) => {
      const state = { unsubscribed: 0, subscribed: true }
      ;(window as unknown as { pushState: typeof state }).pushState = state
      PushManager.prototype.getSubscription = async () => state.subscribed
        ? {
            endpoint,
            unsubscribe: async () => {
              state.unsubscribed++
              state.subscribed = false
              return true
            },
          } as unknown as PushSubscription
        : null
    }, endpoint)
    return context
  }

  const unsubscribed = (page: Page) => page.evaluate(() => (window as unknown as { pushState: { unsubscribed: number } }).pushState.unsubscribed)

  it('logging out ends push on this browser: its device is removed on the server and the subscription ended', async () => {
    const endpoint = `https://push.example.com/e2e-logout-${Date.now()}`
    const keys = { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') }
    expect((await alice.post('/api/devices', { subscription: { endpoint, keys }, name: 'Shared browser' })).status).toBe(201)
    const context = await withPushSubscription(endpoint)
    const page = await loggedIn(context)
    const logouts: unknown[] = []
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/auth/logout') logouts.push(request.postDataJSON())
    })
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(/\/login$/)
    expect(logouts).toEqual([{ endpoint, tokenId: expect.any(String) }])
    expect(await unsubscribed(page)).toBe(1)
    expect((await alice.get('/api/devices')).body.map((d: { endpoint: string }) => d.endpoint)).not.toContain(endpoint)
    await context.close()
  })

  it('a logout asked offline ends the session on the server once back online, and the app stays logged out meanwhile', async () => {
    const endpoint = `https://push.example.com/e2e-offline-logout-${Date.now()}`
    const keys = { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') }
    expect((await alice.post('/api/devices', { subscription: { endpoint, keys }, name: 'Offline browser' })).status).toBe(201)
    const context = await withPushSubscription(endpoint)
    const page = await loggedIn(context)
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true)) // the app opens offline
    const cookie = await cookieHeader(context)
    const asThisBrowser = () => fetch(`${server.url}/api/me`, { headers: { cookie } }).then(res => res.status)
    expect(await asThisBrowser()).toBe(200)

    await context.setOffline(true)
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(/\/login$/)
    // The server has not heard of it yet; this browser shows no one logged in, also opened again.
    expect(await asThisBrowser()).toBe(200)
    await page.goto(`${server.url}/`)
    await page.waitForURL(/\/login$/)
    await page.getByRole('button', { name: 'Log in' }).waitFor()
    await context.setOffline(false)
    await expect.poll(asThisBrowser, { timeout: 10_000 }).toBe(401)
    expect((await alice.get('/api/devices')).body.map((d: { endpoint: string }) => d.endpoint)).not.toContain(endpoint)
    await page.goto(`${server.url}/`)
    await page.waitForURL(/\/login$/)

    // Logged out offline, then reopened online before any "online" event: the start sends it.
    const again = await loggedIn(context)
    const second = await cookieHeader(context)
    await context.setOffline(true)
    await again.getByRole('button', { name: 'Log out' }).click()
    await again.waitForURL(/\/login$/)
    await again.close()
    await context.setOffline(false)
    const reopened = await context.newPage()
    await reopened.goto(`${server.url}/`)
    await reopened.waitForURL(/\/login$/)
    await expect.poll(() => fetch(`${server.url}/api/me`, { headers: { cookie: second } }).then(res => res.status)).toBe(401)
    // Logging in again is a new session, which the old logout does not touch.
    await logInHere(reopened, 'alice')
    await live(reopened)
    await reopened.reload()
    await live(reopened)
    await context.close()
  })

  it('a read made offline and a logout asked offline both reach the server once back online, the read first', async () => {
    const context = await browser.newContext()
    const page = await loggedIn(context)
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true))
    const id = await publish('alerts.cpu', 'Read, then logged out, offline')
    await item(page, 'Read, then logged out, offline').waitFor()
    const cookie = await cookieHeader(context)
    const asThisBrowser = () => fetch(`${server.url}/api/me`, { headers: { cookie } }).then(res => res.status)
    const readAt = async () => (await alice.get('/api/inbox')).body.items.find((i: { id: string }) => i.id === id).readAt

    await context.setOffline(true)
    await page.locator('[data-testid="channel-status"][data-state="offline"]').waitFor()
    await item(page, 'Read, then logged out, offline').getByRole('button', { name: /^Mark read/ }).click()
    await page.getByTestId('pending-reads').waitFor()
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(/\/login$/)
    expect(await queuedReads(page)).toEqual([]) // the inbox went with the logout; the read did not
    expect(await readAt()).toBeNull()

    await context.setOffline(false)
    await expect.poll(asThisBrowser, { timeout: 10_000 }).toBe(401)
    expect(await readAt()).not.toBeNull()
    await context.close()
  })

  it('a read still being sent when the session ends elsewhere leaves the page working at the next login (it used to freeze)', async () => {
    const context = await browser.newContext()
    const page = await loggedIn(context)
    await publish('alerts.cpu', 'Being read, one')
    await publish('alerts.cpu', 'Being read, two')
    await item(page, 'Being read, two').waitFor()
    const reading = await holdRequests(page, '**/api/inbox/read', ['POST'])
    await item(page, 'Being read, one').getByRole('button', { name: /^Mark read/ }).click()
    await expect.poll(() => reading.count('POST')).toBe(1)
    // Read while the first read is still being sent: its sending waits for that one.
    await item(page, 'Being read, two').getByRole('button', { name: /^Mark read/ }).click()
    await item(page, 'Being read, two').getByRole('button', { name: /^Mark read/ }).waitFor({ state: 'detached' })

    // The session ends elsewhere, and only then is the first read answered: the sending that
    // waited on it finds nobody's inbox (a sending that ended at once was waited on for ever, and
    // the next one looped without end, freezing the page).
    expect((await context.request.post(`${server.url}/api/auth/logout`, { data: {} })).status()).toBe(200)
    await page.waitForURL(/\/login$/)
    const answered = page.waitForResponse(response => response.url().endsWith('/api/inbox/read'))
    reading.release()
    expect((await answered).status()).toBe(401)
    // Every state the channel shows from here: the next login's connection is a first one.
    await page.evaluate(() => {
      const seen: string[] = []
      Object.assign(window, { channelStates: seen })
      new MutationObserver(() => {
        const state = document.querySelector('[data-testid="channel-status"]')?.getAttribute('data-state')
        if (state && seen.at(-1) !== state) seen.push(state)
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] })
    })

    await logInHere(page, 'alice')
    await live(page)
    expect(await page.evaluate(() => (window as unknown as { channelStates: string[] }).channelStates)).not.toContain('reconnecting')
    await publish('alerts.cpu', 'After the freeze that was')
    await item(page, 'After the freeze that was').waitFor()
    await item(page, 'After the freeze that was').getByRole('button', { name: /^Mark read/ }).click()
    await item(page, 'After the freeze that was').getByRole('button', { name: /^Mark read/ }).waitFor({ state: 'detached' })
    await expect.poll(async () => (await alice.get('/api/inbox')).body.items.find((i: { title: string }) => i.title === 'After the freeze that was').readAt).not.toBeNull()
    await context.close()
  })

  it('a read whose POST is never answered holds up neither the logout nor the next user\'s inbox', async () => {
    const bob = (await createReader(admin, 'bob-stalled-read', 'alerts.*')).client
    expect((await bob.post('/api/subscriptions', { topic: 'alerts.mem', push: false })).status).toBe(201)
    const context = await browser.newContext()
    const page = await loggedIn(context)
    await publish('alerts.cpu', 'Read on a stalled network')
    // The network swallows the read: no answer ever comes.
    await page.route('**/api/inbox/read', () => {})
    await item(page, 'Read on a stalled network').getByRole('button', { name: /^Mark read/ }).click()
    expect((await context.request.post(`${server.url}/api/auth/logout`, { data: {} })).status()).toBe(200)
    await page.waitForURL(/\/login$/)

    await publish('alerts.mem', 'For bob, before his login')
    await logInHere(page, 'bob-stalled-read')
    // His inbox syncs once that read is given up (10 s), not never.
    await item(page, 'For bob, before his login').waitFor({ timeout: 20_000 })
    await context.close()
  })

  it('an answer about the previous user\'s session, come after a new login in the same tab, leaves that login alone', async () => {
    const carl = (await createReader(admin, 'carl-stale-answer', 'alerts.*')).client
    expect((await carl.post('/api/subscriptions', { topic: 'alerts.disk', push: false })).status).toBe(201)
    const context = await browser.newContext()
    const page = await loggedIn(context)
    // Alice's tab asks who is logged in (back into view); the answer is slow to come.
    let release = () => {}
    const held = new Promise<void>(resolve => release = resolve)
    let first = true
    await page.route('**/api/_auth/session', async (route) => {
      if (!first) return route.continue()
      first = false
      // Asked and answered now (alice is still logged in); the answer reaches the page later.
      const response = await route.fetch()
      await held
      await route.fulfill({ response }).catch(() => {})
    })
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')))
    await expect.poll(() => first).toBe(false)
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(/\/login$/)
    await logInHere(page, 'carl-stale-answer')
    await expect.poll(() => page.getByTestId('whoami').textContent()).toBe('carl-stale-answer (user)')

    // The answer about alice's session, given before her logout, comes now: carl's login stands.
    release()
    await live(page)
    await publish('alerts.disk', 'For carl, after the stale answer')
    await item(page, 'For carl, after the stale answer').waitFor()
    expect(page.url()).toBe(`${server.url}/`)
    expect(await page.getByTestId('whoami').textContent()).toBe('carl-stale-answer (user)')
    expect(await page.evaluate(() => JSON.parse(localStorage.getItem('mercury-user') ?? 'null')?.username)).toBe('carl-stale-answer')
    await context.close()
  })

  it('on a stalled network, a logout ends everything here at once and reaches the server later; a start opens as the last user seen', async () => {
    const context = await browser.newContext()
    const page = await loggedIn(context)
    await publish('alerts.cpu', 'Seen before the stall')
    await item(page, 'Seen before the stall').waitFor()
    const cookie = await cookieHeader(context)
    const asThisBrowser = () => fetch(`${server.url}/api/me`, { headers: { cookie } }).then(res => res.status)

    // A start whose question "who is logged in?" gets no answer: the app opens as alice, from
    // this device, within a few seconds.
    await page.route('**/api/_auth/session', () => {})
    await page.reload()
    await expect.poll(() => page.getByTestId('whoami').textContent(), { timeout: 10_000 }).toBe('alice (user)')
    await item(page, 'Seen before the stall').waitFor()
    await page.unroute('**/api/_auth/session')

    // Asked again (back into view), the server names the login: the logout will name it too.
    const answered = page.waitForResponse(response => response.url().endsWith('/api/_auth/session'))
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')))
    const { tokenId } = await (await answered).json() as { tokenId: string }
    expect(tokenId).toEqual(expect.any(String))

    // A logout whose POST is never answered: this device is logged out within a few seconds.
    const asked: unknown[] = []
    await page.route('**/api/auth/logout', route => void asked.push(route.request().postDataJSON()))
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(/\/login$/, { timeout: 10_000 })
    expect(await asThisBrowser()).toBe(200) // the server has not heard of it yet
    expect(asked.length).toBeGreaterThan(0) // sent again as the page moves: it is still pending
    for (const body of asked) expect(body).toEqual({ tokenId })
    await page.unroute('**/api/auth/logout')
    await page.reload() // the next start sends it
    await expect.poll(asThisBrowser).toBe(401)
    await context.close()
  })

  it('a login whose session cannot be read back at once is that user, never the last one seen on this browser', async () => {
    const bea = (await createReader(admin, 'bea-blip', 'alerts.*')).client
    expect((await bea.post('/api/subscriptions', { topic: 'alerts.bea', push: false })).status).toBe(201)
    const context = await browser.newContext()
    const page = await loggedIn(context, 'bea-blip', 'reader-password')
    await publish('alerts.bea', 'Only for bea')
    await item(page, 'Only for bea').waitFor()
    // The app is closed, and bea's session ends meanwhile (elsewhere): she is still the last user
    // seen here. Alice logs in, and the session's first answer after her login is lost.
    await page.close()
    expect((await context.request.post(`${server.url}/api/auth/logout`, { data: {} })).status()).toBe(200)
    const next = await context.newPage()
    await next.goto(`${server.url}/login`)
    await next.getByLabel('Username').waitFor()
    let blip = true
    await next.route('**/api/_auth/session', (route) => {
      if (!blip) return route.continue()
      blip = false
      return route.abort('failed')
    })
    await logInHere(next, 'alice')
    expect(blip).toBe(false)
    await live(next)
    await publish('alerts.cpu', 'For alice after the blip')
    await item(next, 'For alice after the blip').waitFor()
    expect(await next.getByTestId('whoami').textContent()).toBe('alice (user)')
    expect(await item(next, 'Only for bea').count()).toBe(0)
    expect(await next.evaluate(() => JSON.parse(localStorage.getItem('mercury-user') ?? 'null')?.username)).toBe('alice')
    await context.close()
  })

  it('a browser whose IndexedDB cannot be opened still shows the inbox, kept in memory, and says so', async () => {
    const context = await browser.newContext()
    // A damaged profile: opening the app's database fails.
    await context.addInitScript(() => {
      const open = indexedDB.open.bind(indexedDB)
      indexedDB.open = (name: string, version?: number) => {
        if (name !== 'mercury') return open(name, version)
        const failing = { error: new DOMException('The operation failed for reasons unrelated to the database itself', 'UnknownError') } as unknown as IDBOpenDBRequest
        setTimeout(() => failing.onerror?.({ target: failing, preventDefault() {} } as unknown as Event), 10)
        return failing
      }
    })
    await publish('alerts.cpu', 'Synced without IndexedDB')
    const page = await loggedIn(context)
    await item(page, 'Synced without IndexedDB').waitFor()
    await page.getByTestId('inbox-in-memory').waitFor()
    await publish('alerts.cpu', 'Live without IndexedDB')
    await item(page, 'Live without IndexedDB').waitFor()
    await item(page, 'Live without IndexedDB').getByRole('button', { name: /^Mark read/ }).click()
    await expect.poll(async () => (await alice.get('/api/inbox')).body.items.find((i: { title: string }) => i.title === 'Live without IndexedDB').readAt).not.toBeNull()
    await context.close()

    // Where IndexedDB opens, nothing of the kind is said.
    const healthy = await browser.newContext()
    const normal = await loggedIn(healthy)
    await item(normal, 'Live without IndexedDB').waitFor()
    expect(await normal.getByTestId('inbox-in-memory').count()).toBe(0)
    await healthy.close()
  })

  it('a logout asked offline, sent late by another tab, ends only the login it was asked for, not one made meanwhile', async () => {
    const context = await browser.newContext()
    const a = await loggedIn(context)
    await publish('alerts.cpu', 'Read offline before the late logout')
    await item(a, 'Read offline before the late logout').waitFor()
    const oldCookie = await cookieHeader(context)
    await context.setOffline(true)
    await item(a, 'Read offline before the late logout').getByRole('button', { name: /^Mark read/ }).click()
    await a.getByRole('button', { name: 'Log out' }).click()
    await a.waitForURL(/\/login$/)

    // Back online, tab A sends the pending logout, and it is slow to arrive. Another tab sends it
    // too (it ends the old login), and logs in again: tab A's logout reaches the server after that
    // login, with its cookie.
    const ending = await holdRequests(a, '**/api/auth/logout', ['POST'])
    await context.setOffline(false)
    await expect.poll(() => ending.count('POST')).toBe(1)
    const b = await context.newPage()
    await b.goto(`${server.url}/`)
    await b.waitForURL(/\/login$/)
    await expect.poll(() => fetch(`${server.url}/api/me`, { headers: { cookie: oldCookie } }).then(res => res.status)).toBe(401)
    await logInHere(b, 'alice')
    await live(b)
    const lateLogout = a.waitForResponse(response => response.url().endsWith('/api/auth/logout'))
    ending.release()
    // It names the login it was asked for, which is over: the new one is not ended in its place.
    expect((await lateLogout).status()).toBe(409)
    expect((await b.evaluate(() => fetch('/api/_auth/session').then(res => res.json()))).user?.username).toBe('alice')
    await b.reload()
    await live(b)
    expect(b.url()).toBe(`${server.url}/`)
    expect(await a.evaluate(() => localStorage.getItem('mercury-pending-logout'))).toBeNull()
    await context.close()
  })

  it('an answer saying the previous session ended, come after the same user logged in again, leaves the new session alone', async () => {
    const context = await browser.newContext()
    const page = await loggedIn(context)
    await publish('alerts.cpu', 'Kept through a stale answer')
    await item(page, 'Kept through a stale answer').waitFor()
    const oldCookie = await cookieHeader(context)
    let release = () => {}
    const held = new Promise<void>(resolve => release = resolve)
    let first = true
    let fulfilled = false
    await page.route('**/api/_auth/session', async (route) => {
      if (!first) return route.continue()
      first = false
      await held
      // Answered late, for the cookie it was asked with: that session has ended by now.
      const response = await route.fetch({ headers: { ...route.request().headers(), cookie: oldCookie } })
      await route.fulfill({ response }).catch(() => {})
      fulfilled = true
    })
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')))
    await expect.poll(() => first).toBe(false)
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL(/\/login$/)
    await logInHere(page, 'alice')
    release()
    await expect.poll(() => fulfilled).toBe(true)
    await page.waitForTimeout(1000) // what the app would do with that answer (leave, wipe) is done by now
    await live(page)
    await item(page, 'Kept through a stale answer').waitFor()
    expect(page.url()).toBe(`${server.url}/`)
    expect(await page.evaluate(() => JSON.parse(localStorage.getItem('mercury-user') ?? 'null')?.username)).toBe('alice')
    await context.close()
  })

  it('a session that ended without a logout here: the next person to log in ends the previous one\'s push on this browser', async () => {
    await createReader(admin, 'carol-e2e', 'alerts.*')
    const context = await withPushSubscription(`https://push.example.com/e2e-expired-${Date.now()}`)
    const page = await loggedIn(context)
    await page.reload() // the same person again: their push stays
    await live(page)
    expect(await unsubscribed(page)).toBe(0)
    await context.clearCookies() // the session ends without this page knowing (expired, or ended elsewhere)
    await page.goto(`${server.url}/login`)
    await logInHere(page, 'carol-e2e')
    await expect.poll(() => unsubscribed(page)).toBe(1)
    await context.close()
  })

  it('keeps 10,000 notifications in a virtual list: few rows in the page, the last one reachable', async () => {
    const context = await browser.newContext()
    const page = await loggedIn(context, 'admin', ADMIN_PASSWORD)
    // Written straight into the app's store. The app creates its stores and, for a new owner, clears
    // the inbox and then records the owner: wait until it has (a write made before that clear would
    // be wiped), and close our connection afterwards, so that neither side ever blocks the other's
    // version change.
    await page.evaluate(() => new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 15_000
      const retry = (db: IDBDatabase) => {
        db.close()
        if (Date.now() > deadline) return reject(new Error('the app never opened its inbox'))
        setTimeout(attempt, 100)
      }
      const attempt = () => {
        const open = indexedDB.open('mercury')
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const db = open.result
          if (!['inbox', 'read-queue', 'meta'].every(name => db.objectStoreNames.contains(name))) return retry(db)
          const owner = db.transaction('meta').objectStore('meta').get('owner')
          owner.onerror = () => retry(db)
          owner.onsuccess = () => owner.result ? write(db) : retry(db)
        }
      }
      const write = (db: IDBDatabase) => {
        try {
          const tx = db.transaction('inbox', 'readwrite')
          const store = tx.objectStore('inbox')
          const start = Date.now()
          for (let i = 0; i < 10_000; i++) {
            const id = `bulk-${String(i).padStart(5, '0')}`
            store.put({ id, topic: 'bulk.test', title: `Bulk ${i}`, body: 'a stored notification', url: null, priority: 3, createdAt: new Date(start - i * 1000).toISOString(), readAt: null }, id)
          }
          tx.oncomplete = () => {
            db.close()
            resolve()
          }
          tx.onerror = () => {
            db.close()
            reject(tx.error)
          }
        }
        catch (error) {
          db.close()
          reject(error)
        }
      }
      attempt()
    }))
    await page.reload()
    await item(page, 'Bulk 0').waitFor()
    expect(await page.getByTestId('unread-count').textContent()).toBe('10000')
    expect(await page.getByTestId('inbox-item').count()).toBeLessThan(60)
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight))
    await item(page, 'Bulk 9999').waitFor({ timeout: 5000 })
    await page.getByLabel('Search').fill('Bulk 4242')
    await item(page, 'Bulk 4242').waitFor()
    expect(await page.getByTestId('inbox-item').count()).toBe(1)
    await context.close()
  })

  it('says once that notifications are blocked when the browser refuses them', async () => {
    const context = await browser.newContext()
    const page = await loggedIn(context)
    await nav(page).getByRole('link', { name: 'Devices' }).click()
    await page.getByRole('heading', { name: 'Push on this device' }).waitFor()
    // Headless Chromium refuses notifications to a context that was not granted them.
    expect(await page.evaluate(() => Notification.requestPermission())).toBe('denied')
    await page.getByTestId('enable-push').click()
    await expect.poll(() => page.getByTestId('push-result').getAttribute('data-result')).toBe('denied')
    expect(await page.getByText('Notifications are blocked for this site').count()).toBe(1)
    await context.close()
  })

  it('enabling push where the push service cannot be reached explains why, and the page stays usable', async () => {
    const context = await browser.newContext()
    await context.grantPermissions(['notifications'], { origin: server.url })
    const page = await loggedIn(context)
    const errors: string[] = []
    page.on('pageerror', error => errors.push(error.message))
    await nav(page).getByRole('link', { name: 'Devices' }).click()
    await page.getByRole('heading', { name: 'Push on this device' }).waitFor()
    const button = page.getByTestId('enable-push')
    if (await button.isEnabled()) {
      await button.click()
      const result = page.getByTestId('push-result')
      await result.waitFor({ timeout: 15_000 })
      // No reachable push service here (or no device API yet on this server): never 'subscribed'.
      expect(['error', 'unavailable']).toContain(await result.getAttribute('data-result'))
      expect(await page.getByRole('alert').count()).toBeGreaterThan(0)
    }
    else {
      await page.getByTestId('devices-unavailable').waitFor()
    }
    await nav(page).getByRole('link', { name: 'Inbox' }).click()
    await live(page)
    expect(errors).toEqual([])
    await context.close()
  })
})

describe('keyboard focus', () => {
  /** What has the focus: its accessible name, its test id, or BODY when it was lost. */
  it('stays in place, or moves to what took the control\'s place, after push, subscribe, unsubscribe and reads', async () => {
    const { client } = await createReader(admin, 'keyboarder', 'alerts.*')
    expect((await client.post('/api/subscriptions', { topic: 'alerts.kbd', push: false })).status).toBe(201)
    await publish('alerts.kbd', 'Keyboard one')
    await publish('alerts.kbd', 'Keyboard two')
    await publish('alerts.kbdother', 'Keyboard three')
    const context = await browser.newContext()
    const page = await loggedIn(context, 'keyboarder')

    // Mark read: its button goes, the focus stays on the item.
    await item(page, 'Keyboard two').getByRole('button', { name: /^Mark read/ }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => item(page, 'Keyboard two').getAttribute('data-read')).toBe('true')
    await expect.poll(() => page.evaluate(() => document.activeElement?.closest('[data-testid="inbox-item"]')?.textContent ?? 'elsewhere'))
      .toContain('Keyboard two')
    // Mark all read: nothing is left to read, and the button keeps the focus.
    await page.getByTestId('read-all').focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => page.getByTestId('unread-count').textContent()).toBe('0')
    expect(await focused(page)).toBe('read-all')

    await nav(page).getByRole('link', { name: 'Topics' }).click()
    const status = page.getByTestId('topics-status')
    // The push switch is busy while it saves, and keeps the focus.
    await page.getByRole('switch', { name: 'Push for alerts.kbd' }).focus()
    await page.keyboard.press('Space')
    await expect.poll(() => status.textContent()).toContain('Subscribed to alerts.kbd, with push')
    expect(await focused(page)).toBe('Push for alerts.kbd')
    // Subscribing moves the topic to the other list: the focus follows it to its new button.
    await page.getByRole('button', { name: 'Subscribe to alerts.kbdother' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Unsubscribe from alerts.kbdother')
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Subscribe to alerts.kbdother')
    expect(await status.textContent()).toContain('Unsubscribed from alerts.kbdother')
    await context.close()
  })
})

describe('keyboard focus after a control goes', () => {
  it('moves the focus to the next device\'s Remove, then to the list\'s heading, as devices are removed', async () => {
    const { client } = await createReader(admin, 'remover', null)
    for (const name of ['Phone', 'Laptop']) {
      const endpoint = `https://push.example.com/e2e-remove-${name}-${Date.now()}`
      const keys = { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') }
      expect((await client.post('/api/devices', { subscription: { endpoint, keys }, name })).status).toBe(201)
    }
    const context = await browser.newContext()
    const page = await loggedIn(context, 'remover')
    await nav(page).getByRole('link', { name: 'Devices' }).click()
    await page.getByRole('button', { name: 'Remove Phone' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Remove Laptop')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.getByTestId('device-row').count()).toBe(0)
    await expect.poll(() => focused(page)).toBe('Your devices')
    await context.close()
  })

  it('removes a device once however often Remove is clicked while it is under way', async () => {
    const { client } = await createReader(admin, 'doubleremover', null)
    const endpoint = `https://push.example.com/e2e-double-${Date.now()}`
    const keys = { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') }
    expect((await client.post('/api/devices', { subscription: { endpoint, keys }, name: 'Tablet' })).status).toBe(201)
    const context = await browser.newContext()
    const page = await loggedIn(context, 'doubleremover')
    const removing = await holdRequests(page, '**/api/devices/*', ['DELETE'])
    await nav(page).getByRole('link', { name: 'Devices' }).click()
    const remove = page.getByRole('button', { name: 'Remove Tablet' })
    await remove.click()
    await remove.click({ timeout: 500 }).catch(() => {})
    removing.release()
    await expect.poll(() => page.getByTestId('device-row').count()).toBe(0)
    expect(removing.count('DELETE')).toBe(1)
    expect(await page.getByText('Could not remove the device.').count()).toBe(0)

    // A removal that fails says so (the list's reload cleared what it said).
    expect((await client.post('/api/devices', { subscription: { endpoint: `${endpoint}-2`, keys }, name: 'Watch' })).status).toBe(201)
    await page.unroute('**/api/devices/*')
    await page.route('**/api/devices/*', route => route.request().method() === 'DELETE' ? route.abort('failed') : route.continue())
    await page.reload()
    await page.getByRole('button', { name: 'Remove Watch' }).click()
    await expect.poll(() => page.getByText('Could not remove the device.').count()).toBe(1)
    expect(await page.getByTestId('device-row').count()).toBe(1)
    await context.close()
  })

  it('moves the focus to the topic\'s heading when Try again follows the topic again', async () => {
    const reader = await createReader(admin, 'retrier', null)
    const grant = async () => (await admin.post('/api/admin/grants', { userId: reader.id, topic: 'alerts.retry', read: true })).body.id as string
    const first = await grant()
    const context = await browser.newContext()
    const page = await loggedIn(context, 'retrier')
    await page.goto(`${server.url}/live/alerts.retry`)
    await live(page)
    await page.getByRole('heading', { name: 'Waiting for messages' }).waitFor()
    expect((await admin.delete(`/api/admin/grants/${first}`)).status).toBe(204)
    await page.getByTestId('live-refused').waitFor({ timeout: 5000 })
    await grant()
    await page.getByRole('button', { name: 'Try again' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => page.getByTestId('live-refused').count(), { timeout: 5000 }).toBe(0)
    await expect.poll(() => focused(page)).toBe('alerts.retry')
    await context.close()
  })
})

describe('subscriptions no longer readable', () => {
  it('lists them apart once the group\'s grant is revoked, and Unsubscribe removes each, the focus going to the next', async () => {
    const reader = await createReader(admin, 'regrouped', null)
    const group = (await admin.post('/api/admin/groups', { name: 'team-g5' })).body.id as string
    expect((await admin.post(`/api/admin/groups/${group}/members`, { userId: reader.id })).status).toBe(201)
    const grant = (await admin.post('/api/admin/grants', { groupId: group, topic: 'team.g5.*', read: true })).body.id as string
    for (const topic of ['team.g5.a', 'team.g5.b']) expect((await reader.client.post('/api/subscriptions', { topic, push: false })).status).toBe(201)
    const context = await browser.newContext()
    const page = await loggedIn(context, 'regrouped')
    await nav(page).getByRole('link', { name: 'Topics' }).click()
    await page.getByRole('button', { name: 'Unsubscribe from team.g5.a' }).waitFor()
    const lost = page.getByRole('heading', { name: /^No longer readable/ })
    expect(await lost.count()).toBe(0)

    expect((await admin.delete(`/api/admin/grants/${grant}`)).status).toBe(204)
    await page.reload()
    await lost.waitFor()
    expect(await lost.textContent()).toMatch(/No longer readable\s+\(2\)/)
    expect(await page.getByText('You lost read access; nothing is delivered. It resumes if access comes back.').count()).toBe(1)
    expect(await page.getByTestId('unreadable-row').allTextContents()).toEqual([expect.stringContaining('team.g5.a'), expect.stringContaining('team.g5.b')])
    expect(await page.getByTestId('topic-row').count()).toBe(0)

    await page.getByRole('button', { name: 'Unsubscribe from team.g5.a' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => focused(page)).toBe('Unsubscribe from team.g5.b')
    expect(await page.getByTestId('topics-status').textContent()).toContain('Unsubscribed from team.g5.a')
    await page.keyboard.press('Enter')
    await expect.poll(() => lost.count()).toBe(0)
    expect((await focused(page))?.replace(/\s+/g, ' ')).toBe('Subscribed (0)')
    expect((await reader.client.get('/api/subscriptions')).body).toEqual([])
    await context.close()
  })
})

describe('form errors', () => {
  it('says each error when it shows, and ties it to its field: login, subscribing by name', async () => {
    await createReader(admin, 'typist', 'alerts.*')
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${server.url}/login`)
    await submitLogin(page, 'typist', 'not-the-password')
    await expect.poll(async () => (await fieldError(page.getByLabel('Username'))).text).toMatch(/wrong username or password/i)
    for (const field of ['Username', 'Password']) {
      expect(await fieldError(page.getByLabel(field))).toMatchObject({ invalid: true, alert: true })
    }

    await page.getByLabel('Password').fill('reader-password')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.waitForURL(`${server.url}/`)
    await nav(page).getByRole('link', { name: 'Topics' }).click()
    const byName = page.getByLabel('Subscribe to a topic by name')
    await byName.fill('not a topic!')
    await byName.press('Enter')
    await expect.poll(() => fieldError(byName)).toEqual({ invalid: true, text: 'A topic is 1–128 letters, digits, or _ . -', alert: true })
    // Refused by the server (not readable): said next to the name, which is marked.
    await byName.fill('secret.x')
    await byName.press('Enter')
    const refusal = async () => {
      const error = await fieldError(byName)
      return error.text.includes('secret.x') ? error : null
    }
    await expect.poll(refusal).toMatchObject({ invalid: true, alert: true })
    await context.close()
  })
})

describe('own password', () => {
  it('changes the password on Devices & settings: the current one asked, each error on its field, the other sessions ended', async () => {
    await createReader(admin, 'changer', null)
    const other = new ApiClient(server.url)
    await other.login('changer', 'reader-password')
    const context = await browser.newContext()
    const page = await loggedIn(context, 'changer')
    await nav(page).getByRole('link', { name: 'Devices' }).click()
    const current = page.getByLabel('Current password')
    const next = page.getByLabel('New password')
    const change = page.getByRole('button', { name: 'Change password' })
    await current.fill('not-my-password')
    await next.fill('changer-new-password')
    await change.click()
    await expect.poll(() => fieldError(current)).toEqual({ invalid: true, text: 'Current password is wrong', alert: true })
    await current.fill('reader-password')
    await next.fill('short')
    await change.click()
    await expect.poll(() => fieldError(next)).toEqual({ invalid: true, text: 'New password must be at least 8 characters', alert: true })
    await next.fill('changer-new-password')
    await change.click()
    await expect.poll(() => page.getByTestId('password-changed').textContent()).toContain('Password changed')
    expect(await fieldError(current)).toMatchObject({ invalid: false })
    // This session stays; the other one ended; the new password logs in.
    await page.reload()
    await live(page)
    expect((await other.get('/api/me')).status).toBe(401)
    expect((await new ApiClient(server.url).post('/api/auth/login', { username: 'changer', password: 'changer-new-password' })).status).toBe(200)
    await context.close()
  })
})

describe('announcements', () => {
  it('says politely, on any page, that a notification arrived, once, and a burst as one sentence', async () => {
    const { client } = await createReader(admin, 'listener', 'alerts.*')
    expect((await client.post('/api/subscriptions', { topic: 'alerts.said', push: false })).status).toBe(201)
    const context = await browser.newContext()
    const page = await loggedIn(context, 'listener')
    await nav(page).getByRole('link', { name: 'Topics' }).click()
    const said = page.getByTestId('arrivals')
    // Said after a second's gathering, hence the longer waits.
    expect(await said.getAttribute('role')).toBe('status')
    await publish('alerts.said', 'Disk almost full')
    await expect.poll(() => said.textContent(), { timeout: 5000 }).toBe('New notification: Disk almost full')

    await nav(page).getByRole('link', { name: 'Devices' }).click()
    await Promise.all([1, 2, 3].map(n => publish('alerts.said', `Burst ${n}`)))
    await expect.poll(() => said.textContent(), { timeout: 5000 }).toBe('3 new notifications')
    // Each once: nothing more is said while nothing more arrives.
    const texts: string[] = []
    for (let i = 0; i < 6; i++) {
      texts.push((await said.textContent())!)
      await page.waitForTimeout(250)
    }
    expect(new Set(texts)).toEqual(new Set(['3 new notifications']))
    await context.close()
  })
})
