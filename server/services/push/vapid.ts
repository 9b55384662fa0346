import webpush from 'web-push'
import { mercuryConfig } from '../../utils/config'
import { useDb } from '../../utils/db'
import { isUniqueViolation } from '../accounts'

export interface VapidKeys {
  publicKey: string
  privateKey: string
  subject: string
}

let keys: Promise<VapidKeys> | undefined

/**
 * VAPID keys from NUXT_VAPID_PUBLIC_KEY / NUXT_VAPID_PRIVATE_KEY / NUXT_VAPID_SUBJECT, else the
 * pair generated on first start and kept in the database, so that every process shares it.
 */
export function vapidKeys(): Promise<VapidKeys> {
  keys ??= loadKeys().catch((error: unknown) => {
    keys = undefined
    throw error
  })
  return keys
}

async function loadKeys(): Promise<VapidKeys> {
  const { subject, keys: configured } = mercuryConfig().vapid
  if (configured) return { ...configured, subject }
  const db = useDb()
  const stored = await db.setting.findUnique({ where: { key: 'vapid' } })
  if (stored) return { ...JSON.parse(stored.value) as { publicKey: string, privateKey: string }, subject }
  const generated = webpush.generateVAPIDKeys()
  try {
    await db.setting.create({ data: { key: 'vapid', value: JSON.stringify(generated) } })
    return { ...generated, subject }
  }
  catch (error) {
    if (!isUniqueViolation(error)) throw error
    // Another process generated its pair first: use that one.
    const winner = await db.setting.findUniqueOrThrow({ where: { key: 'vapid' } })
    return { ...JSON.parse(winner.value) as { publicKey: string, privateKey: string }, subject }
  }
}
