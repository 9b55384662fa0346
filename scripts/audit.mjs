// `npm run audit`: Lighthouse on the inbox page of a freshly started built server (run
// `npx nuxt build` first), logged in, plus installability as Chromium sees it; the results go
// into docs/PWA.md between the audit markers.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import * as chromeLauncher from 'chrome-launcher'
import lighthouse from 'lighthouse'
import desktopConfig from 'lighthouse/core/config/desktop-config.js'
import { chromium } from 'playwright-core'
import { demoServer } from './demo-data.mjs'

const chromePath = process.env.MERCURY_CHROMIUM || '/usr/bin/chromium'
const flags = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']
const targets = { 'performance': 90, 'accessibility': 95, 'best-practices': 95 }

const { server, cookie } = await demoServer()
const results = {}
try {
  for (const [formFactor, config] of [['mobile', undefined], ['desktop', desktopConfig]]) {
    // A fresh browser per run: nothing (service worker, caches) carries over between them.
    const chrome = await chromeLauncher.launch({ chromePath, chromeFlags: flags })
    try {
      // The session cookie is set in the browser itself (a header would not reach the
      // WebSocket or the service worker), so storage is not reset before the run.
      const cdp = await chromium.connectOverCDP(`http://127.0.0.1:${chrome.port}`)
      const [name, value] = cookie.split('=')
      await cdp.contexts()[0].addCookies([{ name, value, url: server.url }])
      await cdp.close()
      const run = await lighthouse(`${server.url}/`, {
        port: chrome.port, output: 'json', logLevel: 'error',
        onlyCategories: Object.keys(targets), disableStorageReset: true,
      }, config)
      const lhr = run.lhr
      if (lhr.finalDisplayedUrl !== `${server.url}/`) throw new Error(`Lighthouse ended on ${lhr.finalDisplayedUrl}, not the inbox`)
      results[formFactor] = Object.fromEntries(Object.keys(targets).map(k => [k, Math.round(lhr.categories[k].score * 100)]))
      const failing = Object.values(lhr.audits).filter(a => a.score !== null && a.score < 0.9 && a.scoreDisplayMode !== 'informative').map(a => a.id)
      results[formFactor].failing = failing
      const metric = id => lhr.audits[id]?.displayValue
      console.log(formFactor, results[formFactor], { fcp: metric('first-contentful-paint'), lcp: metric('largest-contentful-paint'), tbt: metric('total-blocking-time'), cls: metric('cumulative-layout-shift') })
      if (process.env.AUDIT_DEBUG) console.log(JSON.stringify(lhr.audits['errors-in-console'].details?.items, null, 1), JSON.stringify(lhr.audits['network-dependency-tree-insight'].details, null, 1).slice(0, 3000))
    }
    finally {
      await chrome.kill()
    }
  }
  results.installability = await installability(server.url, cookie)
  console.log('installability', results.installability)
}
finally {
  await server.stop()
}

async function installability(url, sessionCookie) {
  // A persistent profile: Chromium never offers to install from an incognito-like context.
  const profile = mkdtempSync(path.join(tmpdir(), 'mercury-audit-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromePath, args: flags.filter(f => f !== '--headless=new') })
  try {
    const [name, value] = sessionCookie.split('=')
    await context.addCookies([{ name, value, url }])
    const page = await context.newPage()
    await page.goto(`${url}/`)
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true))
    const cdp = await context.newCDPSession(page)
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors')
    const manifest = await cdp.send('Page.getAppManifest')
    const parsed = JSON.parse(manifest.data || '{}')
    const controlled = await page.evaluate(() => !!navigator.serviceWorker.controller)
    return {
      errors: installabilityErrors.map(e => e.errorId),
      manifestErrors: manifest.errors.map(e => e.message),
      name: parsed.name,
      icons: (parsed.icons ?? []).map(i => `${i.sizes}${i.purpose ? ` ${i.purpose}` : ''}`),
      display: parsed.display,
      serviceWorkerControlsPage: controlled,
    }
  }
  finally {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  }
}

const row = (f) => {
  const r = results[f]
  return `| ${f} | ${r.performance} | ${r.accessibility} | ${r['best-practices']} |`
}
const inst = results.installability
const block = `<!-- audit:start -->
Measured by \`npm run audit\` on ${new Date().toISOString().slice(0, 10)} (Lighthouse ${lighthouseVersion()}, Debian Chromium, the
built server on loopback, logged in, the inbox with a few notifications).

| form factor | Performance | Accessibility | Best Practices |
|---|---|---|---|
${row('mobile')}
${row('desktop')}

Targets: Performance ≥ ${targets.performance}, Accessibility ≥ ${targets.accessibility}, Best Practices ≥ ${targets['best-practices']}.
Audits below 0.9 (mobile): ${results.mobile.failing.join(', ') || 'none'}.

Installability (Lighthouse 13 has no PWA category; Chromium's own check through
\`Page.getInstallabilityErrors\`): **${inst.errors.length === 0 ? 'installable' : `not installable: ${inst.errors.join(', ')}`}**;
manifest ${inst.manifestErrors.length ? `errors: ${inst.manifestErrors.join('; ')}` : 'without errors'} — name "${inst.name}", display ${inst.display},
icons ${inst.icons.join(', ')}; service worker controls the page: ${inst.serviceWorkerControlsPage ? 'yes' : 'no'}.
<!-- audit:end -->`

function lighthouseVersion() {
  return JSON.parse(readFileSync(new URL('../node_modules/lighthouse/package.json', import.meta.url), 'utf8')).version
}

const doc = new URL('../docs/PWA.md', import.meta.url)
const text = readFileSync(doc, 'utf8')
writeFileSync(doc, text.replace(/<!-- audit:start -->[\s\S]*<!-- audit:end -->/, block))
console.log('docs/PWA.md updated')
