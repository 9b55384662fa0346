export const deviceSelect = { id: true, name: true, endpoint: true, createdAt: true, updatedAt: true, disabledAt: true } as const

export const deliverySelect = {
  id: true, notificationId: true, deviceId: true, status: true, attempts: true, statusCode: true, error: true, log: true,
  createdAt: true, updatedAt: true, notification: { select: { id: true, title: true, topic: true } },
} as const

/** A Delivery row for clients: the attempt log as JSON, not text. */
export function toDelivery<T extends { log: string }>(row: T) {
  return { ...row, log: JSON.parse(row.log) as unknown[] }
}
