// Mercury — Nuxt configuration. Runtime settings are documented in README.md ("Configuration").
import { readdirSync } from 'node:fs'

// The migrations this build expects, the same for SQLite and PostgreSQL: a server started on a
// database that lacks one stops and says to migrate (server/services/bootstrap.ts).
const migrations = readdirSync(new URL('prisma/migrations', import.meta.url)).filter(name => /^\d{14}_/.test(name)).sort()

export default defineNuxtConfig({
  modules: ['nuxt-auth-utils', '@pinia/nuxt', '@nuxt/eslint', '@vite-pwa/nuxt'],
  // The app renders in the browser: its shell is then the same HTML for every route, which the
  // service worker keeps so that the inbox opens offline (see docs/PWA.md).
  ssr: false,
  devtools: { enabled: false },
  app: {
    head: {
      htmlAttrs: { lang: 'en' },
      title: 'Mercury',
      meta: [
        { name: 'viewport', content: 'width=device-width, initial-scale=1' },
        { name: 'description', content: 'Mercury — realtime notifications' },
        { name: 'theme-color', content: '#1e293b' },
      ],
      link: [
        { rel: 'icon', type: 'image/png', href: '/icons/icon-192.png' },
        { rel: 'apple-touch-icon', href: '/icons/apple-touch-icon.png' },
      ],
      // Before the app boots, so that a dark choice never flashes light.
      script: [{ innerHTML: 'try{var t=localStorage.getItem("mercury-theme");if(t)document.documentElement.dataset.theme=t}catch(e){}' }],
    },
  },
  css: ['~/assets/main.css'],
  runtimeConfig: {
    // Each key can be set with NUXT_<KEY>; the plain variables in server/utils/config.ts win.
    databaseUrl: '',
    redisUrl: '',
    adminPassword: '',
    dataDir: '',
    migrations,
    session: {
      name: 'mercury-session',
      password: '',
      // Secure is set per request at login (behind TLS, or a proxy trusted to say so).
      cookie: { sameSite: 'lax', httpOnly: true, secure: false },
      // No maxAge here: a login's cookie is sealed with MERCURY_SESSION_DAYS, a setting read at run
      // time, and renewed while in use (server/utils/session.ts); the seal carries its own expiry.
    },
  },
  compatibilityDate: '2026-11-01',
  nitro: {
    experimental: { websocket: true },
    // Built files are stored gzip- and brotli-compressed too, and served so to browsers that accept it.
    compressPublicAssets: { gzip: true, brotli: true },
    // The generated Prisma clients and native drivers stay in node_modules.
    externals: { inline: [] },
  },
  typescript: {
    strict: true,
    // The service worker is type-checked on its own (WebWorker lib): service-worker/tsconfig.json.
    tsConfig: { exclude: ['../service-worker'] },
  },
  telemetry: false,
  hooks: {
    // nuxt-auth-utils adds a server plugin (with nitro websockets on) that loads the session on
    // every request, and without a cookie creates and seals a new one: key derivation, encryption
    // and a Set-Cookie on every answer, publishes and health checks included. Mercury's upgrades
    // read the cookie themselves (server/utils/upgrade.ts), so the plugin only cost CPU.
    'nitro:config'(config) {
      config.plugins = config.plugins?.filter(plugin => !plugin || !/nuxt-auth-utils[\\/].*server[\\/]plugins[\\/]ws/.test(plugin))
      // Its DELETE /api/_auth/session clears the cookie but leaves the login's token valid (a copy
      // of the cookie still works): logging out is POST /api/auth/logout, which ends both.
      config.handlers = config.handlers?.filter(handler => !(handler?.route === '/api/_auth/session' && handler.method === 'delete'))
      // API errors answered as JSON with the API's own headers, before Nuxt's handler (app pages).
      config.errorHandler = ['~~/server/error-api', ...[config.errorHandler ?? []].flat()]
    },
  },
  eslint: { config: { stylistic: true } },
  pwa: {
    strategies: 'injectManifest',
    srcDir: 'service-worker',
    filename: 'sw.ts',
    // A new release waits for the user's Reload; the app registers the worker itself and offers
    // it (plugins/app-update.client.ts, docs/PWA.md "Updates").
    registerType: 'prompt',
    injectRegister: false,
    client: { registerPlugin: false, installPrompt: false },
    injectManifest: {
      rollupFormat: 'iife',
      globPatterns: ['**/*.{js,css,png,svg,ico,webmanifest}'],
    },
    manifest: {
      name: 'Mercury',
      short_name: 'Mercury',
      description: 'Realtime notifications: a live feed and an inbox that works offline.',
      start_url: '/',
      scope: '/',
      display: 'standalone',
      background_color: '#0b1120',
      theme_color: '#1e293b',
      icons: [
        { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
        { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
        { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
      ],
    },
    devOptions: { enabled: false },
  },
})
