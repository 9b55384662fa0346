import { chromium, type Browser, type Page } from 'playwright-core'

// Debian's chromium, never a downloaded browser. The flags keep it off the (closed) network.
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.MERCURY_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  })
}

/** Fills the login form the page shows and submits it (where it then goes is the caller's to wait for). */
export async function submitLogin(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
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
