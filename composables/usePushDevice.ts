// Push on this device: subscribe with the server's VAPID key and register the device. Returns a
// typed result rather than throwing; the page explains each one.
import { base64UrlToBytes } from '#shared/utils/base64url'

export type PushResult = 'subscribed' | 'denied' | 'not-supported' | 'unavailable' | 'error'

export interface Device {
  id: string
  name: string | null
  endpoint: string
  createdAt: string
  disabledAt: string | null
}

export interface Delivery {
  id: string
  notificationId: string
  status: 'queued' | 'sent' | 'failed' | 'expired'
  attempts: number
  statusCode: number | null
  error: string | null
  createdAt: string
  updatedAt: string
  notification: { id: string, title: string, topic: string } | null
}

function status(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode
}

function defaultName(): string {
  const ua = navigator.userAgent
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser'
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : ''
  return os ? `${browser} on ${os}` : browser
}

export function usePushDevice() {
  const supported = import.meta.client && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window
  const lastError = ref('')

  /** This browser's current push endpoint, if it has one. */
  async function currentEndpoint(): Promise<string | null> {
    if (!supported) return null
    const registration = await navigator.serviceWorker.getRegistration()
    return (await registration?.pushManager.getSubscription())?.endpoint ?? null
  }

  async function enable(name = defaultName()): Promise<PushResult> {
    lastError.value = ''
    if (!supported) return 'not-supported'
    try {
      const permission = await Notification.requestPermission()
      if (permission !== 'granted') return 'denied'
      let publicKey: string
      try {
        publicKey = (await $fetch<{ publicKey: string }>('/api/push/public-key')).publicKey
      }
      catch (error) {
        if (status(error) === 404) return 'unavailable'
        throw error
      }
      const registration = await navigator.serviceWorker.ready
      const subscription = await registration.pushManager.getSubscription()
        ?? await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(publicKey) })
      try {
        await $fetch('/api/devices', { method: 'POST', body: { subscription: subscription.toJSON(), name } })
      }
      catch (error) {
        if (status(error) === 404) return 'unavailable'
        throw error
      }
      return 'subscribed'
    }
    catch (error) {
      lastError.value = error instanceof Error ? error.message : String(error)
      return 'error'
    }
  }

  /** The user's devices; null when the server has no device API. */
  async function list(): Promise<Device[] | null> {
    try {
      return await $fetch<Device[]>('/api/devices')
    }
    catch (error) {
      if (status(error) === 404) return null
      throw error
    }
  }

  async function remove(device: Device): Promise<void> {
    await $fetch(`/api/devices/${encodeURIComponent(device.id)}`, { method: 'DELETE' })
    if (device.endpoint === await currentEndpoint()) await unsubscribe()
  }

  /** Ends this browser's push subscription: the push service delivers nothing more here. */
  async function unsubscribe(): Promise<void> {
    if (!supported) return
    const registration = await navigator.serviceWorker.getRegistration()
    await (await registration?.pushManager.getSubscription())?.unsubscribe()
  }

  async function deliveries(device: Device): Promise<Delivery[]> {
    return $fetch<Delivery[]>(`/api/devices/${encodeURIComponent(device.id)}/deliveries`)
  }

  /** `unsubscribe` for a session that is over: a failure is logged, never thrown. */
  function endHere(): Promise<void> {
    return unsubscribe().catch(error => console.warn('mercury: could not end push on this browser', error))
  }

  return { supported, lastError, enable, list, remove, deliveries, currentEndpoint, endHere }
}
