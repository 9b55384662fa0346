import { persistentSecret, startupReady } from '../services/bootstrap'

export default defineNitroPlugin(() => {
  // nuxt-auth-utils reads the session password lazily from this variable.
  process.env.NUXT_SESSION_PASSWORD = persistentSecret('NUXT_SESSION_PASSWORD', 'session-secret')
  startupReady().catch((error: unknown) => {
    console.error('Mercury: start-up failed:', error)
  })
})
