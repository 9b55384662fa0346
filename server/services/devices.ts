import { createPublicKey } from 'node:crypto'

export const deviceSelect = { id: true, name: true, endpoint: true, createdAt: true, updatedAt: true, disabledAt: true } as const

export const deliverySelect = {
  id: true, notificationId: true, deviceId: true, status: true, attempts: true, statusCode: true, error: true, log: true,
  createdAt: true, updatedAt: true, notification: { select: { id: true, title: true, topic: true } },
} as const

/** A Delivery row for clients: the attempt log as JSON, not text. */
export function toDelivery<T extends { log: string }>(row: T) {
  return { ...row, log: JSON.parse(row.log) as unknown[] }
}

/**
 * Whether a subscription's p256dh key is a point of the P-256 curve (65 bytes, uncompressed). One
 * that is not would fail every push to the device ("not valid for specified curve").
 */
export function validPushKey(p256dh: string): boolean {
  const raw = Buffer.from(p256dh, 'base64url')
  if (raw.length !== 65 || raw[0] !== 0x04) return false
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') }, format: 'jwk' })
    return true
  }
  catch {
    return false
  }
}
