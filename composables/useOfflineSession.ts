// Offline, the session endpoint cannot answer; the app then opens as the user it last saw, so that
// the inbox (kept in IndexedDB) still shows. Anything that needs the server still asks for it.
import type { User } from '#auth-utils'

const KEY = 'mercury-user'

/** The id of the user last seen on this device, if any (read before the session is known). */
export function lastSeenUserId(): string | null {
  try {
    const saved = localStorage.getItem(KEY)
    return saved ? (JSON.parse(saved) as User).id ?? null : null
  }
  catch {
    return null
  }
}

export function useOfflineSession() {
  const { session } = useUserSession()

  function remember(user: User) {
    localStorage.setItem(KEY, JSON.stringify(user))
  }

  function forget() {
    localStorage.removeItem(KEY)
  }

  /** When the session could not be fetched at all (not: fetched and empty), restore the last user. */
  function restore(): boolean {
    if (!import.meta.client || session.value !== null) return false
    const saved = localStorage.getItem(KEY)
    if (!saved) return false
    try {
      session.value = { id: 'offline', user: JSON.parse(saved) as User }
      return true
    }
    catch {
      return false
    }
  }

  return { remember, forget, restore }
}
