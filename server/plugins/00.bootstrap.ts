import { persistentSecret, startupReady } from '../services/bootstrap'
import { ConfigError, mercuryConfig } from '../utils/config'

export default defineNitroPlugin(() => {
  try {
    // Every setting is read and checked here, before anything starts.
    mercuryConfig()
    // nuxt-auth-utils reads the session password lazily from this variable.
    process.env.NUXT_SESSION_PASSWORD = persistentSecret('NUXT_SESSION_PASSWORD', 'session-secret')
  }
  catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(`Mercury: ${error.message}`)
    process.exit(1)
  }
  startupReady().catch((error: unknown) => {
    console.error('Mercury: start-up failed:', error)
  })
})
