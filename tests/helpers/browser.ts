import { chromium, type Browser, type Page } from 'playwright-core'

// Debian's chromium, never a downloaded browser. The flags keep it off the (closed) network.
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.MERCURY_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  })
}

/**
 * Holds the page's requests of `methods` to `url` until release(), counting them: an action kept
 * under way at the server while the test clicks again.
 */
export async function holdRequests(page: Page, url: string, methods: string[]) {
  const counts = new Map<string, number>()
  let release = () => {}
  const held = new Promise<void>(resolve => release = resolve)
  await page.route(url, async (route) => {
    const method = route.request().method()
    if (methods.includes(method)) {
      counts.set(method, (counts.get(method) ?? 0) + 1)
      await held
    }
    await route.continue()
  })
  return { count: (method: string) => counts.get(method) ?? 0, release }
}
