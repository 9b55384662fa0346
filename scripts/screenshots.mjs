// `npm run screenshots`: the inbox, a live view and the topics page, light and dark, desktop and
// phone, from a freshly started built server (run `npx nuxt build` first) → docs/screenshots/.
import { mkdirSync } from 'node:fs'
import { chromium } from 'playwright-core'
import { demoServer } from './demo-data.mjs'

const out = new URL('../docs/screenshots/', import.meta.url)
mkdirSync(out, { recursive: true })
const { server, publish, password } = await demoServer()
const browser = await chromium.launch({
  executablePath: process.env.MERCURY_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
})

async function shoot(colorScheme, viewport, suffix) {
  const context = await browser.newContext({ colorScheme, viewport, deviceScaleFactor: viewport.width < 600 ? 2 : 1 })
  const page = await context.newPage()
  await page.goto(`${server.url}/login`)
  await page.getByLabel('Username').fill('admin')
  await page.getByLabel('Password').fill(password)
  if (suffix === 'desktop' && colorScheme === 'light') await page.screenshot({ path: new URL('login-light.png', out).pathname })
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.waitForURL(`${server.url}/`)
  await page.locator('[data-state="live"]').waitFor()
  await page.getByTestId('inbox-item').first().waitFor()
  await page.screenshot({ path: new URL(`inbox-${colorScheme}${suffix === 'phone' ? '-phone' : ''}.png`, out).pathname })

  await page.goto(`${server.url}/live/sensors.room1`)
  await page.locator('[data-state="live"]').waitFor()
  for (const celsius of [21.4, 21.9, 22.6]) {
    await publish('sensors.room1', { event: 'reading', data: { celsius, humidity: 41 } })
  }
  await publish('sensors.room1', { event: 'alert', data: { celsius: 26.4 }, notification: { title: 'Room 1 is warm', body: '26.4 °C, humidity 41 %.' } })
  await page.getByTestId('live-message').nth(3).waitFor()
  await page.screenshot({ path: new URL(`live-${colorScheme}${suffix === 'phone' ? '-phone' : ''}.png`, out).pathname })

  await page.getByRole('link', { name: 'Topics' }).click()
  await page.getByTestId('topic-row').first().waitFor()
  await page.screenshot({ path: new URL(`topics-${colorScheme}${suffix === 'phone' ? '-phone' : ''}.png`, out).pathname })
  if (suffix === 'desktop') {
    await page.getByRole('link', { name: 'Devices' }).click()
    await page.getByRole('heading', { name: 'Your devices' }).waitFor()
    await page.waitForTimeout(300)
    await page.screenshot({ path: new URL(`devices-${colorScheme}.png`, out).pathname })
  }
  await context.close()
}

try {
  for (const scheme of ['light', 'dark']) {
    await shoot(scheme, { width: 1280, height: 800 }, 'desktop')
    await shoot(scheme, { width: 390, height: 844 }, 'phone')
  }
  console.log(`screenshots written to ${out.pathname}`)
}
finally {
  await browser.close()
  await server.stop()
}
