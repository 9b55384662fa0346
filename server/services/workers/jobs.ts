import type { DeliveryStatus } from '#shared/schemas/devices'

export interface FanoutJob {
  notificationId: string
}

export interface PushJob {
  deliveryId: string
  deviceId: string
  endpoint: string
  p256dh: string
  auth: string
  /** The JSON payload the service worker receives, already serialized. */
  payload: string
  priority: number
  /** 1 for the first try. */
  attempt: number
  /**
   * When the fanout read the device (ms since the epoch). A first try sent soon after that read
   * uses what the job carries; absent on jobs queued by an older version.
   */
  readAt?: number
  /**
   * When the push is out of date (ms since the epoch): the notification's publication plus the TTL
   * of its priority. Absent on jobs queued by an older version: then counted from the try.
   */
  expiresAt?: number
}

export interface ResultJob {
  deliveryId: string
  deviceId: string
  attempt: number
  /** `queued` while a retry is scheduled. */
  status: DeliveryStatus
  statusCode: number | null
  error: string | null
  at: string
  /** When the next try is due (a `queued` outcome): a restart of the in-process queue waits for it too. */
  retryAt?: string
}
