// The message a page sends the waiting service worker so that it takes over (the one
// workbox-window's messageSkipWaiting() sends): used by both, so they cannot drift apart.
export const SKIP_WAITING = 'SKIP_WAITING'
