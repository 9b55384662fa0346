// The service worker's click and subscription-change handlers, with the worker's globals faked.
// (Plain JS: the worker's WebWorker types do not mix with the DOM types of the other tests.)
import { beforeEach, describe, expect, it, vi } from 'vitest'

const sw = {
  location: { origin: 'https://mercury.example' },
  clients: { matchAll: vi.fn(), openWindow: vi.fn() },
  registration: { pushManager: { subscribe: vi.fn() } },
}
vi.mock('../../service-worker/scope', () => ({ sw }))
const { onNotificationClick } = await import('../../service-worker/notification-click')
const { onPushSubscriptionChange } = await import('../../service-worker/subscription-change')

function clickOn(url) {
  return { notification: { data: { url }, close: vi.fn() } }
}

beforeEach(() => {
  vi.clearAllMocks()
})

describe('notificationclick', () => {
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
