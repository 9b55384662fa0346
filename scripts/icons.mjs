// Renders the app icons (public/icons/*.png) from one SVG with Debian's Chromium.
// Run once after changing the drawing: node scripts/icons.mjs; the PNGs are committed.
import { mkdirSync, writeFileSync } from 'node:fs'
import { chromium } from 'playwright-core'

const out = new URL('../public/icons/', import.meta.url)
mkdirSync(out, { recursive: true })

// A winged envelope on slate: Mercury, the messenger. `inset` shrinks the drawing into the
// maskable safe zone (the inner 80 %).
function svg(size, { inset = 0, rounded = true } = {}) {
  const s = 512
  const scale = 1 - inset * 2
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${s} ${s}">
  <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#1e3a8a"/><stop offset="1" stop-color="#0f172a"/></linearGradient></defs>
  <rect width="${s}" height="${s}" rx="${rounded ? 112 : 0}" fill="url(#g)"/>
  <g transform="translate(${s / 2} ${s / 2}) scale(${scale}) translate(${-s / 2} ${-s / 2})">
    <path d="M96 196c40-6 70 4 92 26-30-2-56 6-80 22 28-4 52 2 72 16-26 2-48 10-66 26" fill="none" stroke="#93c5fd" stroke-width="18" stroke-linecap="round" stroke-linejoin="round"/>
    <rect x="176" y="176" width="248" height="168" rx="22" fill="#f8fafc"/>
    <path d="M188 190l112 86 112-86" fill="none" stroke="#1d4ed8" stroke-width="20" stroke-linecap="round" stroke-linejoin="round"/>
    <circle cx="408" cy="184" r="40" fill="#f59e0b" stroke="#0f172a" stroke-width="12"/>
  </g>
</svg>`
}

const browser = await chromium.launch({ executablePath: process.env.MERCURY_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] })
const page = await browser.newPage()
const icons = [
  ['icon-192.png', 192, {}],
  ['icon-512.png', 512, {}],
  ['apple-touch-icon.png', 180, { rounded: false }],
  ['maskable-512.png', 512, { inset: 0.1, rounded: false }],
]
for (const [name, size, options] of icons) {
  await page.setViewportSize({ width: size, height: size })
  await page.setContent(`<html><body style="margin:0;background:transparent">${svg(size, options)}</body></html>`)
  const png = await page.locator('svg').screenshot({ omitBackground: true })
  writeFileSync(new URL(name, out), png)
  console.log('wrote', name)
}
writeFileSync(new URL('icon.svg', out), svg(512))
await browser.close()
