// Where someone was going when the app sent them to log in (a deep link opened without a session,
// or the page they were on when their session ended): kept for this tab, and the login page goes
// there once they are logged in. Kept out of the URL, so the login page is always /login.
const KEY = 'mercury-after-login'
/** Whose session ended on that page: the way back is theirs, not the next person's. */
const OWNER = 'mercury-after-login-owner'

/** Only paths of this app: never another origin ("//host", "/\host"), never the login page. */
function ownPath(path: string | null): path is string {
  return !!path && path.startsWith('/') && !/^\/[/\\]/.test(path) && !/^\/login(?:[/?#]|$)/.test(path)
}

export const loginReturn = {
  keep(path: string) {
    if (ownPath(path) && path !== '/') sessionStorage.setItem(KEY, path)
  },
  /** The page about to be kept is where this user's session ended. */
  endedFor(userId: string) {
    sessionStorage.setItem(OWNER, userId)
  },
  /** Where to go now that `userId` logged in ('/' when nothing was kept, or it was someone else's). */
  take(userId: string | undefined): string {
    const path = sessionStorage.getItem(KEY)
    const owner = sessionStorage.getItem(OWNER)
    sessionStorage.removeItem(KEY)
    sessionStorage.removeItem(OWNER)
    return ownPath(path) && (owner === null || owner === userId) ? path : '/'
  },
}

/** True once the session ended without this device asking (the login page says so). */
export function useSessionEnded() {
  return useState('mercury:session-ended', () => false)
}
