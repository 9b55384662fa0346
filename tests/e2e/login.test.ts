import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { ADMIN_PASSWORD, startServer, type RunningServer } from '../helpers/server'
import { launchBrowser, submitLogin } from '../helpers/browser'

let server: RunningServer
let browser: Browser

beforeAll(async () => {
  server = await startServer()
  browser = await launchBrowser()
})

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

it('logs in through the page, shows who is logged in, and logs out', async () => {
  const context = await browser.newContext()
  const page = await context.newPage()
  const violations: string[] = []
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text())
  })
  const response = await page.goto(`${server.url}/`)
  const csp = response!.headers()['content-security-policy'] ?? ''
  expect(csp).toMatch(/script-src 'self' 'sha256-/)
  expect(csp).toContain(`frame-ancestors 'none'`)
  await page.waitForURL(/\/login$/)

  await submitLogin(page, 'admin', 'wrong-password')
  await expect.poll(() => page.getByRole('alert').textContent()).toContain('Wrong username or password')

  await page.getByLabel('Password').fill(ADMIN_PASSWORD)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.waitForURL(`${server.url}/`)
  await expect.poll(() => page.getByTestId('home-username').textContent()).toBe('admin')

  // The session survives a reload.
  await page.reload()
  await expect.poll(() => page.getByTestId('whoami').textContent()).toContain('admin')

  await page.getByRole('button', { name: 'Log out' }).click()
  await page.waitForURL(/\/login$/)
  await page.goto(`${server.url}/`)
  await page.waitForURL(/\/login$/)
  // The policy allows everything the app does: not one violation on the way.
  expect(violations).toEqual([])
  await context.close()
})

it('shows a page that does not exist in the app\'s own layout, within the content security policy', async () => {
  const context = await browser.newContext()
  expect((await context.request.post(`${server.url}/api/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } })).status()).toBe(200)
  const page = await context.newPage()
  const violations: string[] = []
  const errors: string[] = []
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text())
    // Nuxt's router raised a 404 while the app started: "Error caught during app initialization".
    if (message.type() === 'error') errors.push(message.text())
  })
  await page.goto(`${server.url}/no/such/page`)
  const error = page.getByTestId('error-page')
  await expect.poll(() => error.textContent()).toContain('There is no page at /no/such/page.')
  await error.getByRole('button', { name: 'Go to the inbox' }).click()
  await page.waitForURL(`${server.url}/`)
  await expect.poll(() => page.getByTestId('home-username').textContent()).toBe('admin')
  expect(violations).toEqual([])
  expect(errors).toEqual([])
  await context.close()
})

it('follows a session changed elsewhere: a role given and taken by an admin, a logout in another tab', async () => {
  const admin = (await browser.newContext()).request
  expect((await admin.post(`${server.url}/api/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } })).status()).toBe(200)
  const created = await admin.post(`${server.url}/api/admin/users`, { data: { username: 'carol', password: 'carol-password' } })
  expect(created.status()).toBe(201)
  const carol = (await created.json()).id as string
  const setRole = async (role: string) => expect((await admin.patch(`${server.url}/api/admin/users/${carol}`, { data: { role } })).status()).toBe(200)

  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(`${server.url}/login`)
  await submitLogin(page, 'carol', 'carol-password')
  await page.waitForURL(`${server.url}/`)
  await expect.poll(() => page.getByTestId('whoami').textContent()).toBe('carol (user)')

  // Made an admin while logged in: the next start knows (the session cookie still says "user").
  await setRole('admin')
  await page.reload()
  await expect.poll(() => page.getByTestId('whoami').textContent()).toBe('carol (admin)')
  await page.goto(`${server.url}/admin/users`)
  await page.locator('[data-testid="admin-live"][data-status="open"]').waitFor()
  // The role taken back: the console's socket says so at once (the users page asks the server
  // nothing by itself), and the page says where it stands without a click.
  await setRole('user')
  await page.waitForURL(/\/admin\/not-allowed$/, { timeout: 5000 })
  await page.goto(`${server.url}/`)
  await expect.poll(() => page.getByTestId('whoami').textContent()).toBe('carol (user)')
  await page.locator('[data-testid="channel-status"][data-state="live"]').waitFor()

  // Logged out in a second tab: this one goes to the login page, without a reload.
  const other = await context.newPage()
  await other.goto(`${server.url}/`)
  await other.getByRole('button', { name: 'Log out' }).click()
  await other.waitForURL(/\/login$/)
  await page.waitForURL(/\/login$/, { timeout: 10_000 })
  await context.close()
})

it('keeps a deep link through the login, and an admin page whose session ends says so and comes back after the login', async () => {
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(`${server.url}/admin/sources`)
  await page.waitForURL(/\/login$/)
  expect(await page.getByTestId('session-ended').count()).toBe(0) // never logged in: nothing ended
  await submitLogin(page, 'admin', ADMIN_PASSWORD)
  await page.waitForURL(`${server.url}/admin/sources`)
  await page.getByRole('navigation', { name: 'Admin' }).waitFor()

  // The session ends elsewhere (this cookie logged out by another client): the console's socket
  // is closed, the page goes to the login page and says why, and the login brings it back here.
  expect((await context.request.post(`${server.url}/api/auth/logout`, { data: {} })).status()).toBe(200)
  await page.waitForURL(/\/login$/, { timeout: 10_000 })
  await expect.poll(() => page.getByTestId('session-ended').textContent()).toContain('Your session has ended')
  await submitLogin(page, 'admin', ADMIN_PASSWORD)
  await page.waitForURL(`${server.url}/admin/sources`)
  expect(await page.getByTestId('session-ended').count()).toBe(0)

  // Ended again, and someone else logs in on this tab: the way back was the admin's, not theirs.
  const created = await context.request.post(`${server.url}/api/admin/users`, { data: { username: 'dave', password: 'dave-password' } })
  expect(created.status()).toBe(201)
  expect((await context.request.post(`${server.url}/api/auth/logout`, { data: {} })).status()).toBe(200)
  await page.waitForURL(/\/login$/, { timeout: 10_000 })
  await page.getByTestId('session-ended').waitFor()
  await submitLogin(page, 'dave', 'dave-password')
  await page.waitForURL(`${server.url}/`)
  await page.getByRole('button', { name: 'Log out' }).click()
  await page.waitForURL(/\/login$/)

  // Only paths of the app are gone back to.
  await page.evaluate(() => sessionStorage.setItem('mercury-after-login', '//example.com/x'))
  await context.clearCookies()
  await page.goto(`${server.url}/login`)
  await submitLogin(page, 'admin', ADMIN_PASSWORD)
  await page.waitForURL(`${server.url}/`)
  await context.close()
})
