import { defineStore } from 'pinia'

export interface RateFigures { perMinute: number, rate: number, total: number }

export interface MetricsFrame {
  pid: number
  at: string
  connections: { channel: number, datalink: number, users: number }
  producersOnline: number
  topicsLive: number
  messages: RateFigures
  perSource: Record<string, RateFigures>
  perTopic: Record<string, RateFigures>
}

export type DeliveryCounts = { queued: number, sent: number, failed: number, expired: number }
/** Jobs waiting, running and scheduled for later in one queue (GET /api/admin/metrics). */
export type QueueDepth = { waiting: number, active: number, delayed: number }
export type QueueDepths = { fanout: QueueDepth, push: QueueDepth, result: QueueDepth }

const HISTORY = 120

export const useAdminMetricsStore = defineStore('adminMetrics', () => {
  const latest = ref<MetricsFrame | null>(null)
  /** Messages per second of the last two minutes, for the overall sparkline. */
  const rateHistory = ref<number[]>([])
  const deliveries = ref<DeliveryCounts | null>(null)
  const queues = ref<QueueDepths | null>(null)

  function apply(frame: MetricsFrame) {
    latest.value = frame
    rateHistory.value = [...rateHistory.value, frame.messages.rate].slice(-HISTORY)
  }

  /**
   * Figures that come from the delivery pipeline, read over REST. Either route may be missing on a
   * server without the pipeline: the dashboard then shows "—".
   */
  async function loadPipeline() {
    const [metrics, log] = await Promise.allSettled([
      adminFetch<{ queues?: QueueDepths }>('/api/admin/metrics'),
      adminFetch<{ counts?: DeliveryCounts }>('/api/admin/deliveries', { query: { limit: 1 } }),
    ])
    queues.value = metrics.status === 'fulfilled' ? metrics.value.queues ?? null : null
    deliveries.value = log.status === 'fulfilled' ? log.value.counts ?? null : null
  }

  return { latest, rateHistory, deliveries, queues, apply, loadPipeline }
})
