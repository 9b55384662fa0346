import type Redis from 'ioredis'
import { mercuryConfig } from '../../utils/config'
import { useDb } from '../../utils/db'
import { Hub } from './hub'
import type { ChannelLayer, ControlEvent } from './layer'
import { MemoryChannelLayer, type OffsetStore } from './memory-layer'
import { RedisChannelLayer } from './redis-layer'

let layer: ChannelLayer | undefined
let hub: Hub | undefined

/** Offsets of the embedded layer survive restarts through the Topic table. */
const prismaOffsets: OffsetStore = {
  async ceiling(topic) {
    const row = await useDb().topic.findUnique({ where: { name: topic }, select: { offsetCeiling: true } })
    return row?.offsetCeiling ?? 0
  },
  async reserve(topic, ceiling) {
    await useDb().topic.upsert({ where: { name: topic }, create: { name: topic, offsetCeiling: ceiling }, update: { offsetCeiling: ceiling } })
  },
}

export function useChannelLayer(): ChannelLayer {
  if (!layer) {
    const config = mercuryConfig()
    const limits = { maxLength: config.historySize, maxAgeMs: config.historyMaxAgeSeconds * 1000, maxBytes: config.historyMaxBytes }
    layer = config.redisUrl ? new RedisChannelLayer(config.redisUrl, limits) : new MemoryChannelLayer(limits, prismaOffsets)
  }
  return layer
}

/** The Redis command connection when scaled out on Redis, else null. */
export function useSharedRedis(): Redis | null {
  const current = useChannelLayer()
  return current instanceof RedisChannelLayer ? current.commands : null
}

export function useHub(): Hub {
  if (!hub) {
    const config = mercuryConfig()
    hub = new Hub(useChannelLayer(), { maxBufferedBytes: config.maxBufferedBytes, replayPage: 1000 })
  }
  return hub
}

/** Tells every instance (this one included) about a change. */
export function broadcastControl(event: ControlEvent): Promise<void> {
  return useChannelLayer().broadcast(event).catch((error: unknown) => {
    console.warn(`mercury: could not broadcast ${event.type}:`, (error as Error).message)
  })
}

/** Closes every WebSocket with 1001 (going away), so that clients reconnect elsewhere at once. */
export function closeConnections(): void {
  hub?.closeAll(1001, 'server shutting down')
}

export async function closeRealtime(): Promise<void> {
  closeConnections()
  await layer?.close()
  hub = undefined
  layer = undefined
}
