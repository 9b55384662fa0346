import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { ADMIN_PASSWORD, startServer, type RunningServer } from '../helpers/server'
import { launchBrowser } from '../helpers/browser'
import { ApiClient } from '../helpers/client'
import { createActiveSource, createReader, publisher } from '../helpers/fixtures'
import { TestPushService } from '../helpers/push-service'

let server: RunningServer
let browser: Browser
let push: TestPushService

beforeAll(async () => {
  push = new TestPushService()
  await push.start()
  server = await startServer({ env: { MERCURY_PUSH_ALLOW_INSECURE: '1', NODE_EXTRA_CA_CERTS: push.certFile } })
  browser = await launchBrowser()
})

afterAll(async () => {
  await browser?.close()
  await server?.stop()
  await push?.stop()
})

it('shows a failed delivery (the push service answered 410) in the delivery log with its status', async () => {
  const admin = new ApiClient(server.url)
  await admin.login('admin', ADMIN_PASSWORD)
  const source = await createActiveSource(admin, 'pager', 'pager.*')
  const reader = await createReader(admin, 'oncall', 'pager.*')
  await reader.client.post('/api/subscriptions', { topic: 'pager.db', push: true })
  const device = await reader.client.post('/api/devices', { subscription: push.subscribe('oncall-phone').subscription, name: 'On-call phone' })
  push.script('oncall-phone', [{ status: 410, body: 'subscription expired' }])
  await publisher(server.url, source.token).post('/api/topics/pager.db/messages', { notification: { title: 'Database down' } })
  await expect.poll(async () => (await reader.client.get(`/api/devices/${device.body.id}/deliveries`)).body[0]?.status, { timeout: 10_000 }).toBe('expired')

  const context = await browser.newContext()
  const login = await context.request.post(`${server.url}/api/auth/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } })
  expect(login.status()).toBe(200)
  const page = await context.newPage()
  await page.goto(`${server.url}/admin/deliveries`)
  const row = page.getByTestId('delivery-row').filter({ hasText: 'Database down' })
  await row.waitFor({ timeout: 10_000 })
  expect(await row.getAttribute('data-status')).toBe('expired')
  expect(await row.getByTestId('delivery-status-code').textContent()).toContain('410')
  expect(await row.getByTestId('delivery-error').textContent()).toContain('subscription expired')
  expect(await row.getByTestId('delivery-device').textContent()).toContain('On-call phone')
  // A date in the address that is not one is refused with the API's message, not shown as a script error.
  await page.goto(`${server.url}/admin/deliveries?since=notadate`)
  await page.getByRole('alert').filter({ hasText: 'since: must be an ISO 8601 date-time' }).waitFor({ timeout: 10_000 })
  expect(await row.count()).toBe(0)
  expect(await page.getByText('Invalid time value').count()).toBe(0)
  await page.goto(`${server.url}/admin/deliveries`)
  await row.waitFor({ timeout: 10_000 })

  // What is typed applies once Filter is pressed, not at the next refresh of the list.
  await page.getByLabel('Topic').fill('nothing.here')
  await page.waitForResponse(res => res.url().includes('/api/admin/deliveries'), { timeout: 10_000 })
  await page.waitForResponse(res => res.url().includes('/api/admin/deliveries'), { timeout: 10_000 })
  expect(await row.count()).toBe(1)
  await page.getByRole('button', { name: 'Filter', exact: true }).click()
  await expect.poll(() => row.count()).toBe(0)
  await page.getByRole('button', { name: 'Clear', exact: true }).click()
  await row.waitFor()
  // A range that ends before it starts is refused with a message, not answered with an empty list.
  await page.getByLabel('From', { exact: true }).fill('2026-05-02T10:00')
  await page.getByLabel('To', { exact: true }).fill('2026-05-01T10:00')
  await page.getByRole('button', { name: 'Filter', exact: true }).click()
  await page.getByText('From must not be later than To.').waitFor()
  expect(await row.count()).toBe(1)
  const refused = await admin.get('/api/admin/deliveries?since=2026-05-02T10:00:00Z&until=2026-05-01T10:00:00Z')
  expect(refused.status).toBe(400)
  expect(JSON.stringify(refused.body)).toContain('must not be later than until')
  await context.close()
})
