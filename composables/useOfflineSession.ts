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

/**
 * Calls `listener` when another tab of this browser changes the user last seen here: someone
 * logged in (perhaps someone else), or out.
 */
export function onLastSeenUserChange(listener: () => void): void {
  window.addEventListener('storage', (event) => {
    if (event.key === KEY || event.key === null) listener()
  })
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

const PENDING_LOGOUT = 'mercury-pending-logout'

/**
 * A logout the server has not heard of yet. Every logout is kept here first and then sent: one
 * asked offline ends the session here (inbox, channel, push) but not the session cookie, and is
 * sent as soon as the server can be reached (back online, the next start, the next login); until
 * then this device shows no one logged in, whatever the cookie says.
 */
export const pendingLogout = {
  /** `endpoint`: this browser's push endpoint, for the server to remove that device too. */
  keep(endpoint: string | null) {
    localStorage.setItem(PENDING_LOGOUT, endpoint ?? '')
  },
  has(): boolean {
    return localStorage.getItem(PENDING_LOGOUT) !== null
  },
  clear() {
    localStorage.removeItem(PENDING_LOGOUT)
  },
  /** Sends it, once it is there; resolves to false while the server cannot be reached. */
  async send(): Promise<boolean> {
    const endpoint = localStorage.getItem(PENDING_LOGOUT)
    if (endpoint === null) return true
    try {
      const response = await fetch('/api/auth/logout', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'accept': 'application/json' },
        body: JSON.stringify(endpoint ? { endpoint } : {}),
      })
      if (response.status >= 500) return false
    }
    catch {
      return false
    }
    // Done, or refused (a 4xx: the session had ended anyway): nothing is left to end.
    pendingLogout.clear()
    return true
  },
}
