// Mercury — Nuxt configuration. Runtime settings are documented in README.md ("Configuration").
export default defineNuxtConfig({
  modules: ['nuxt-auth-utils', '@pinia/nuxt', '@nuxt/eslint'],
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
    },
  },
  css: ['~/assets/main.css'],
  runtimeConfig: {
    // Each key can be set with NUXT_<KEY>; the plain variables in server/utils/config.ts win.
    databaseUrl: '',
    redisUrl: '',
    adminPassword: '',
    dataDir: '',
    session: {
      name: 'mercury-session',
      password: '',
      cookie: { sameSite: 'lax', httpOnly: true },
      maxAge: 60 * 60 * 24 * 7,
    },
  },
  compatibilityDate: '2026-11-01',
  nitro: {
    experimental: { websocket: true },
    // The generated Prisma clients and native drivers stay in node_modules.
    externals: { inline: [] },
  },
  typescript: { strict: true },
  telemetry: false,
  eslint: { config: { stylistic: true } },
})
