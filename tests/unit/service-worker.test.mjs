// The service worker's click and subscription-change handlers, with the worker's globals faked.
// (Plain JS: the worker's WebWorker types do not mix with the DOM types of the other tests.)
import { beforeEach, describe, expect, it, vi } from 'vitest'

const sw = {
  location: { origin: 'https://mercury.example' },
  clients: { matchAll: vi.fn(), openWindow: vi.fn() },
  registration: { pushManager: { subscribe: vi.fn() }, showNotification: vi.fn() },
  navigator: {},
}
vi.mock('../../service-worker/scope', () => ({ sw }))

// The inbox over Maps instead of IndexedDB.
function memoryStorage() {
  const map = new Map()
  return {
    getItem: async k => (map.has(k) ? structuredClone(map.get(k)) : null),
    setItem: async (k, v) => {
      map.set(k, structuredClone(v))
      return v
    },
    removeItem: async k => void map.delete(k),
    keys: async () => [...map.keys()],
    iterate: async (cb) => {
      let n = 0
      for (const [k, v] of map) cb(structuredClone(v), k, ++n)
    },
    clear: async () => map.clear(),
  }
}
const { createInboxStore, createReadQueue } = await import('#shared/inbox/store')
const db = { inbox: createInboxStore(memoryStorage()), readQueue: createReadQueue(memoryStorage()), meta: memoryStorage() }
vi.mock('#shared/inbox/browser', () => ({ useInboxDb: () => db, INBOX_CHANNEL: 'inbox', SNAPSHOT_KEY: 'snapshot' }))
globalThis.BroadcastChannel ??= class { postMessage() {} close() {} }

const { onNotificationClick } = await import('../../service-worker/notification-click')
const { onPushSubscriptionChange } = await import('../../service-worker/subscription-change')
const { onPush } = await import('../../service-worker/push')

function clickOn(url, owner = 'alice') {
  return { notification: { data: { url, owner }, close: vi.fn() } }
}

beforeEach(() => {
  vi.clearAllMocks()
})

describe('notificationclick', () => {
  beforeEach(async () => {
    await db.meta.setItem('owner', 'alice')
  })

  it('focuses an open window of the app and routes it to the URL, without opening another', async () => {
    const window = { url: 'https://mercury.example/topics', focus: vi.fn(), postMessage: vi.fn() }
    sw.clients.matchAll.mockResolvedValue([window])
    const event = clickOn('/live/alerts.disk?x=1')
    await onNotificationClick(event)
    expect(event.notification.close).toHaveBeenCalledOnce()
    expect(window.postMessage).toHaveBeenCalledWith({ type: 'navigate', url: '/live/alerts.disk?x=1' })
    expect(window.focus).toHaveBeenCalledOnce()
    expect(sw.clients.openWindow).not.toHaveBeenCalled()
  })

  it('opens the URL once when no window of the app is open', async () => {
    sw.clients.matchAll.mockResolvedValue([])
    await onNotificationClick(clickOn('/hosts/1'))
    expect(sw.clients.openWindow).toHaveBeenCalledOnce()
    expect(sw.clients.openWindow).toHaveBeenCalledWith('https://mercury.example/hosts/1')
  })

  it('opens an outside URL in a new window even when the app is open, and the app without a URL', async () => {
    sw.clients.matchAll.mockResolvedValue([{ url: 'https://mercury.example/', focus: vi.fn(), postMessage: vi.fn() }])
    await onNotificationClick(clickOn('https://status.example.com/incident'))
    expect(sw.clients.openWindow).toHaveBeenCalledWith('https://status.example.com/incident')
    sw.clients.matchAll.mockResolvedValue([])
    await onNotificationClick({ notification: { data: null, close: vi.fn() } })
    expect(sw.clients.openWindow).toHaveBeenLastCalledWith('https://mercury.example/')
  })

  it('opens the app, and no URL, for a notification of another user than the one logged in now', async () => {
    sw.clients.matchAll.mockResolvedValue([])
    await onNotificationClick(clickOn('/hosts/1', 'bob'))
    expect(sw.clients.openWindow).toHaveBeenLastCalledWith('https://mercury.example/')
    await onNotificationClick(clickOn('/hosts/1', null))
    expect(sw.clients.openWindow).toHaveBeenLastCalledWith('https://mercury.example/')
  })
})

describe('notificationclick on a notification of the inbox', () => {
  const stored = { id: 'n9', topic: 'alerts.disk', title: 'Disk full', body: 'b', url: null, priority: 3, createdAt: '2026-11-24T10:00:00.000Z', readAt: null }
  const click = (owner = 'alice') => ({ notification: { data: { id: 'n9', url: '/', owner }, close: vi.fn() } })

  beforeEach(async () => {
    await db.meta.setItem('owner', 'alice')
    await db.inbox.clear()
    await db.readQueue.clear()
    await db.inbox.add([stored])
    sw.clients.matchAll.mockResolvedValue([])
  })

  it('marks it read here and tells the server', async () => {
    const fetch = vi.fn().mockResolvedValue({ ok: true })
    vi.stubGlobal('fetch', fetch)
    await onNotificationClick(click())
    expect((await db.inbox.get('n9')).readAt).toEqual(expect.any(String))
    expect(fetch).toHaveBeenCalledWith('/api/inbox/read', expect.objectContaining({ method: 'POST', body: JSON.stringify({ ids: ['n9'] }) }))
    expect((await db.readQueue.pending()).ids).toEqual([])
    expect((await db.meta.getItem('snapshot')).unread).toBe(0)
    vi.unstubAllGlobals()
  })

  it('keeps the read queued for the app when the server cannot be reached', async () => {
    vi.stubGlobal('fetch', vi.fn().mockRejectedValue(new TypeError('Failed to fetch')))
    vi.spyOn(console, 'error').mockImplementation(() => {})
    await onNotificationClick(click())
    expect((await db.inbox.get('n9')).readAt).toEqual(expect.any(String))
    expect((await db.readQueue.pending()).ids).toEqual(['n9'])
    expect(sw.clients.openWindow).toHaveBeenCalledWith('https://mercury.example/')
    vi.unstubAllGlobals()
    vi.restoreAllMocks()
  })

  it('changes nothing when nobody is logged in on the browser, or someone else than its user', async () => {
    const fetch = vi.fn()
    vi.stubGlobal('fetch', fetch)
    // The same notification id is in bob's inbox: alice's notification, left on screen, is not his.
    await db.meta.setItem('owner', 'bob')
    await onNotificationClick(click('alice'))
    await db.meta.removeItem('owner')
    await onNotificationClick(click())
    expect((await db.inbox.get('n9')).readAt).toBeNull()
    expect(fetch).not.toHaveBeenCalled()
    vi.unstubAllGlobals()
  })

  it('routes the focused window of the app, not a tab showing the API', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue({ ok: true }))
    const api = { url: 'https://mercury.example/api/inbox', focused: true, visibilityState: 'visible', focus: vi.fn(), postMessage: vi.fn() }
    const hidden = { url: 'https://mercury.example/topics', focused: false, visibilityState: 'hidden', focus: vi.fn(), postMessage: vi.fn() }
    const focused = { url: 'https://mercury.example/', focused: true, visibilityState: 'visible', focus: vi.fn(), postMessage: vi.fn() }
    sw.clients.matchAll.mockResolvedValue([api, hidden, focused])
    await onNotificationClick(click())
    expect(focused.postMessage).toHaveBeenCalledWith({ type: 'navigate', url: '/' })
    expect(api.postMessage).not.toHaveBeenCalled()
    expect(hidden.postMessage).not.toHaveBeenCalled()
    vi.unstubAllGlobals()
  })
})

describe('pushsubscriptionchange', () => {
  it('registers the new subscription with the server', async () => {
    const fetch = vi.fn().mockResolvedValue({ ok: true, json: async () => ({}) })
    vi.stubGlobal('fetch', fetch)
    const subscription = { toJSON: () => ({ endpoint: 'https://push.example/new', keys: { p256dh: 'p', auth: 'a' } }) }
    await onPushSubscriptionChange({ newSubscription: subscription })
    expect(fetch).toHaveBeenCalledWith('/api/devices', expect.objectContaining({ method: 'POST' }))
    expect(JSON.parse(fetch.mock.calls[0][1].body)).toEqual({ subscription: subscription.toJSON() })
    vi.unstubAllGlobals()
  })

  it('subscribes again with the server\'s key when the browser gives no new subscription', async () => {
    const key = Buffer.alloc(65, 4).toString('base64url')
    const fetch = vi.fn()
      .mockResolvedValueOnce({ ok: true, json: async () => ({ publicKey: key }) })
      .mockResolvedValueOnce({ ok: true, json: async () => ({}) })
    vi.stubGlobal('fetch', fetch)
    const renewed = { toJSON: () => ({ endpoint: 'https://push.example/renewed', keys: { p256dh: 'p', auth: 'a' } }) }
    sw.registration.pushManager.subscribe.mockResolvedValue(renewed)
    await onPushSubscriptionChange({ newSubscription: null })
    const options = sw.registration.pushManager.subscribe.mock.calls[0][0]
    expect(options.userVisibleOnly).toBe(true)
    expect(Array.from(options.applicationServerKey)).toEqual(Array.from(Buffer.alloc(65, 4)))
    expect(JSON.parse(fetch.mock.calls[1][1].body).subscription.endpoint).toBe('https://push.example/renewed')
    vi.unstubAllGlobals()
  })
})

describe('push', () => {
  const pushed = payload => ({ data: { json: () => payload } })
  const whole = { user: 'alice', id: 'n1', topic: 'alerts.disk', title: 'Disk full', body: 'the whole body', url: '/disks/1', priority: 3, createdAt: '2026-11-24T10:00:00.000Z' }

  /** The one notification shown: a bare "Mercury", with nothing of the push in it. */
  function expectBare() {
    expect(sw.registration.showNotification).toHaveBeenCalledOnce()
    const [title, options] = sw.registration.showNotification.mock.calls[0]
    expect(title).toBe('Mercury')
    expect(JSON.stringify(options)).not.toMatch(/Disk|whole|disks|alerts/)
    expect(options.data?.owner ?? null).toBeNull()
  }

  it('stores a push in the inbox and shows it; a push cut to fit keeps the whole copy stored before', async () => {
    await db.meta.setItem('owner', 'alice')
    await onPush(pushed(whole))
    expect(await db.inbox.get('n1')).toMatchObject({ body: 'the whole body', url: '/disks/1' })
    expect(sw.registration.showNotification).toHaveBeenCalledWith('Disk full', expect.objectContaining({ body: 'the whole body', data: { id: 'n1', url: '/disks/1', owner: 'alice' } }))

    await onPush(pushed({ ...whole, body: 'the wh…', url: null, shortened: true }))
    expect(await db.inbox.get('n1')).toMatchObject({ body: 'the whole body', url: '/disks/1' })
    expect(sw.registration.showNotification).toHaveBeenLastCalledWith('Disk full', expect.objectContaining({ body: 'the wh…' }))

    // With nothing stored before, the shortened copy is what there is (the app's sync replaces it).
    await onPush(pushed({ ...whole, id: 'n2', body: 'cut…', shortened: true }))
    expect(await db.inbox.get('n2')).toMatchObject({ body: 'cut…' })
  })

  it('stores a push for another user than the one logged in nowhere, and shows nothing of it', async () => {
    await db.inbox.clear()
    await db.meta.setItem('owner', 'bob')
    // Alice's, sent before she logged out and bob logged in on this browser (a late or retried push).
    await onPush(pushed({ ...whole, id: 'for-alice' }))
    expect(await db.inbox.get('for-alice')).toBeNull()
    expectBare()
  })

  it('stores a push that names no user (an older server) nowhere, and shows it as it is', async () => {
    await db.inbox.clear()
    await db.meta.setItem('owner', 'bob')
    await onPush(pushed({ ...whole, user: undefined, id: 'unnamed' }))
    expect(await db.inbox.get('unnamed')).toBeNull()
    expect(sw.registration.showNotification).toHaveBeenCalledWith('Disk full', expect.objectContaining({ body: 'the whole body', data: { id: 'unnamed', url: '/disks/1', owner: null } }))
  })

  it('stores a push nowhere while nobody is logged in, and shows nothing of it, named or not', async () => {
    await db.inbox.clear()
    await db.meta.removeItem('owner')
    await onPush(pushed({ ...whole, id: 'after-logout' }))
    expect(await db.inbox.get('after-logout')).toBeNull()
    expectBare()
    sw.registration.showNotification.mockClear()
    await onPush(pushed({ ...whole, user: undefined, id: 'unnamed-after-logout' }))
    expectBare()
  })

  it.each([
    ['its user logged out', null],
    ['another user logged in', 'bob'],
  ])('shows nothing of a push when %s while it was being stored', async (_, next) => {
    await db.inbox.clear()
    await db.meta.setItem('owner', 'alice')
    // The page removes the owner (and sets the next one's) while the worker stores the push.
    const add = db.inbox.add
    db.inbox.add = async (...args) => {
      const result = await add(...args)
      if (next) await db.meta.setItem('owner', next)
      else await db.meta.removeItem('owner')
      return result
    }
    try {
      await onPush(pushed({ ...whole, id: 'switching' }))
    }
    finally {
      db.inbox.add = add
    }
    expectBare()
  })
})
