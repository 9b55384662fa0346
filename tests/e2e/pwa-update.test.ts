// New releases reaching an open app. A release is deployed as in production: the server stops and
// starts again, on the same port and data, from a build whose service worker differs (a copy of
// this build with one line added to public/sw.js, as any rebuild changes it).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { ADMIN_PASSWORD, createTestDatabase, startServer, type RunningServer, type TestDatabase } from '../helpers/server'
import { launchBrowser, submitLogin } from '../helpers/browser'
import { ApiClient } from '../helpers/client'
import { createReader } from '../helpers/fixtures'

const root = path.resolve(import.meta.dirname, '../..')
let db: TestDatabase
let server: RunningServer
let browser: Browser
let release = 1
const copies: string[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  ;[server, browser] = await Promise.all([startServer({ db }), launchBrowser()])
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  await createReader(admin, 'alice', 'alerts.*')
})

afterAll(async () => {
  await browser?.close()
  await server?.stop()
  await db?.drop()
  for (const dir of copies) rmSync(dir, { recursive: true, force: true })
})

/**
 * Deploys the next release: a copy of the build whose sw.js ends with `self.mercuryRelease = n`.
 * Nitro's list of public files gives each one's size and ETag, so the copy's entry is changed
 * too (a stale ETag would let the browser's check be answered 304, a stale size cut the file).
 */
async function deploy(): Promise<number> {
  release++
  const dir = mkdtempSync(path.join(tmpdir(), `mercury-release-${release}-`))
  copies.push(dir)
  const output = path.join(dir, '.output')
  cpSync(path.join(root, '.output'), output, { recursive: true })
  const worker = path.join(output, 'public/sw.js')
  writeFileSync(worker, readFileSync(worker, 'utf8') + `\n;self.mercuryRelease = ${release};\n`)
  const list = path.join(output, 'server/chunks/nitro/nitro.mjs')
  const entry = /("\/sw\.js": \{\s*"type": "[^"]*",\s*"etag": )"(?:[^"\\]|\\.)*"(,\s*"mtime": "[^"]*",\s*"size": )\d+/
  const source = readFileSync(list, 'utf8')
  if (!entry.test(source)) throw new Error('the built server lists its public files in another form: update deploy()')
  writeFileSync(list, source.replace(entry, `$1"\\"release-${release}\\""$2${readFileSync(worker).length}`))

  await server.stop()
  server = await startServer({ db, port: server.port, output })
  expect(await (await fetch(`${server.url}/sw.js`)).text()).toContain(`self.mercuryRelease = ${release};`)
  return release
}

async function loggedIn(context: BrowserContext, path = '/'): Promise<Page> {
  const page = await context.newPage()
  await page.goto(`${server.url}/login`)
  await submitLogin(page, 'alice', 'reader-password')
  await page.waitForURL(`${server.url}/`)
  if (path !== '/') await page.goto(`${server.url}${path}`)
  await live(page)
  // The first visit is controlled by the worker at once (offline shell, push).
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true)
  return page
}

async function live(page: Page, timeout = 10_000) {
  await page.locator('[data-testid="channel-status"][data-state="live"]').waitFor({ timeout })
}

/** Marks the page's current document: false once it has been loaded again. */
async function mark(page: Page) {
  await page.evaluate(() => ((window as unknown as { sameLoad: boolean }).sameLoad = true))
}
const sameLoad = (page: Page) => page.evaluate(() => (window as unknown as { sameLoad?: boolean }).sameLoad === true)

const notice = (page: Page) => page.getByRole('status').filter({ hasText: 'A new version of Mercury is available' })
const field = (page: Page) => page.getByLabel('Subscribe to a topic by name')

/** The state of the context's worker of a release ('' when there is none). */
async function workerState(context: BrowserContext, n: number): Promise<string> {
  for (const worker of context.serviceWorkers()) {
    const state = await worker.evaluate(() => {
      const scope = self as unknown as { mercuryRelease?: number, serviceWorker: { state: string } }
      return [scope.mercuryRelease, scope.serviceWorker.state] as const
    }).catch(() => [undefined, ''] as const)
    if (state[0] === n) return state[1]
  }
  return ''
}

describe('a new release', () => {
  it('is offered to every open tab, and none reloads by itself: what was typed stays', async () => {
    const context = await browser.newContext()
    const typing = await loggedIn(context, '/topics')
    const idle = await context.newPage()
    await idle.goto(`${server.url}/`)
    await live(idle)
    await field(typing).fill('alerts.half-typ')
    await Promise.all([mark(typing), mark(idle)])

    const next = await deploy()
    // A tab opened after the deploy: the browser finds the new worker as it navigates.
    const opened = await context.newPage()
    await opened.goto(`${server.url}/`)
    await expect.poll(() => workerState(context, next), { timeout: 15_000 }).not.toBe('')
    // A moment later: nobody's page was loaded again, and the new worker waits for them.
    await new Promise(resolve => setTimeout(resolve, 2000))
    expect(await sameLoad(typing)).toBe(true)
    expect(await sameLoad(idle)).toBe(true)
    expect(await field(typing).inputValue()).toBe('alerts.half-typ')
    expect(await workerState(context, next)).toBe('installed')
    await live(typing, 30_000)
    for (const page of [typing, idle, opened]) await notice(page).waitFor({ timeout: 10_000 })
    // Said politely: the focus stays in the field being typed in.
    expect(await typing.evaluate(() => document.activeElement?.tagName)).toBe('INPUT')
    await context.close()
  })

  it('reaches a single open tab when /channel reconnects after the restart; Reload brings it to that tab, the others reload only when asked', async () => {
    const context = await browser.newContext()
    const first = await loggedIn(context, '/topics')
    const second = await context.newPage()
    await second.goto(`${server.url}/topics`)
    await live(second)
    await field(second).fill('alerts.later')
    await Promise.all([mark(first), mark(second)])

    const next = await deploy()
    await notice(first).waitFor({ timeout: 30_000 })
    await notice(second).waitFor({ timeout: 10_000 })
    expect(await workerState(context, next)).toBe('installed')

    // Later: the notice goes, and the focus goes to the page's heading, not to the body.
    await second.getByRole('button', { name: 'Later' }).click()
    await expect.poll(() => notice(second).count()).toBe(0)
    expect(await second.evaluate(() => document.activeElement?.tagName)).toBe('H1')

    await first.getByRole('button', { name: 'Reload' }).click()
    await expect.poll(() => sameLoad(first), { timeout: 10_000 }).toBe(false)
    await live(first)
    await expect.poll(() => workerState(context, next)).toBe('activated')
    expect(await first.evaluate(() => navigator.serviceWorker.getRegistration().then(r => !r?.waiting && !!navigator.serviceWorker.controller))).toBe(true)
    expect(await notice(first).count()).toBe(0)

    // The other tab now runs older code than its worker: it says so again, and waits.
    await notice(second).waitFor({ timeout: 10_000 })
    await new Promise(resolve => setTimeout(resolve, 1000))
    expect(await sameLoad(second)).toBe(true)
    expect(await field(second).inputValue()).toBe('alerts.later')
    await second.getByRole('button', { name: 'Reload' }).click()
    await expect.poll(() => sameLoad(second), { timeout: 10_000 }).toBe(false)
    await live(second)
    expect(await notice(second).count()).toBe(0)
    await context.close()
  })
})
