// The app waits for the server to say who is logged in before any page mounts. Meanwhile the
// local inbox of the user last seen on this device can already be read from IndexedDB, so that
// the inbox shows as soon as the page mounts (stores/inbox.ts takes the reads over).
import { preloadInbox } from '~/stores/inbox'

export default defineNuxtPlugin({
  name: 'mercury:inbox-preload',
  enforce: 'pre',
  setup() {
    const path = window.location.pathname
    if (path.startsWith('/admin') || path.startsWith('/login')) return
    const userId = lastSeenUserId()
    if (userId) preloadInbox(userId)
  },
})
