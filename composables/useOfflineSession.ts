// Offline, the session endpoint cannot answer; the app then opens as the user it last saw, so that
// the inbox (kept in IndexedDB) still shows. Anything that needs the server still asks for it.
import type { User } from '#auth-utils'
import type { ReadRequest } from '#shared/inbox/store'

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
 * Calls `changed` when another tab of this browser changes the user last seen here: someone
 * logged in (perhaps someone else), or out; `cleared` when another tab cleared all of
 * localStorage, which says nothing of who is logged in.
 */
export function onLastSeenUserChange(changed: () => void, cleared: () => void): void {
  window.addEventListener('storage', (event) => {
    if (event.key === KEY) changed()
    else if (event.key === null) cleared()
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

interface PendingLogout {
  /** This browser's push endpoint, for the server to remove that device too. */
  endpoint: string | null
  /**
   * The login it ends (the session's `tokenId`): sent after a new login made meanwhile (by another
   * tab of this browser), it ends that login only, never the new one.
   */
  tokenId?: string
  /** The reads still queued at the logout: sent first, in the session they were made in. */
  reads: ReadRequest[]
}

function pendingRecord(): PendingLogout | null {
  const saved = localStorage.getItem(PENDING_LOGOUT)
  if (saved === null) return null
  try {
    const record = JSON.parse(saved) as Partial<PendingLogout> | null
    if (record && typeof record === 'object') return { endpoint: record.endpoint ?? null, reads: Array.isArray(record.reads) ? record.reads : [], tokenId: typeof record.tokenId === 'string' ? record.tokenId : undefined }
  }
  catch { /* kept by an older release: the endpoint alone */ }
  return { endpoint: saved || null, reads: [] }
}

/**
 * How long an answer about the session (who is logged in; a logout, and the reads sent before it)
 * is waited for: a network that stalls longer is taken as offline. The app then opens as the last
 * user seen, and a logout ends everything on this device at once and reaches the server later.
 */
export const SESSION_ANSWER_MS = 5000

function post(path: string, body: object): Promise<Response> {
  return fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'accept': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(SESSION_ANSWER_MS),
  })
}

/**
 * A logout the server has not heard of yet. Every logout is kept here first and then sent: one
 * asked offline ends the session here (inbox, channel, push) but not the session cookie, and is
 * sent as soon as the server can be reached (back online, the next start, the next login); until
 * then this device shows no one logged in, whatever the cookie says. The reads still queued go
 * with it, and reach the server before it (the inbox, and its queue, are wiped at the logout).
 */
export const pendingLogout = {
  keep(endpoint: string | null, reads: ReadRequest[] = [], tokenId?: string) {
    localStorage.setItem(PENDING_LOGOUT, JSON.stringify({ endpoint, reads, tokenId } satisfies PendingLogout))
  },
  has(): boolean {
    return localStorage.getItem(PENDING_LOGOUT) !== null
  },
  clear() {
    localStorage.removeItem(PENDING_LOGOUT)
  },
  /**
   * Sends it, once it is there, its reads first; resolves to false while the server cannot be
   * reached. One sending at a time in this tab: a caller while one is under way (a login about to
   * be made) waits for that one. Another tab's sending may still reach the server after a login
   * made here: the logout names its login (`tokenId`), and the server ends no other.
   */
  send(): Promise<boolean> {
    sending ??= sendPending().finally(() => {
      sending = null
    })
    return sending
  },
}

let sending: Promise<boolean> | null = null

async function sendPending(): Promise<boolean> {
  const record = pendingRecord()
  if (!record) return true
  try {
    for (const read of record.reads) {
      // A refusal (4xx) is dropped, as the app's own sending does.
      if ((await post('/api/inbox/read', read)).status >= 500) return false
    }
    if (record.reads.length) {
      if (!pendingLogout.has()) return true // sent meanwhile by another tab
      pendingLogout.keep(record.endpoint, [], record.tokenId)
    }
    const response = await post('/api/auth/logout', { ...(record.endpoint ? { endpoint: record.endpoint } : {}), ...(record.tokenId ? { tokenId: record.tokenId } : {}) })
    if (response.status >= 500) return false
  }
  catch {
    return false
  }
  // Done, or refused (a 4xx: the session had ended anyway): nothing is left to end.
  pendingLogout.clear()
  return true
}
