import { mercuryConfig } from '../../utils/config'
import type { FanoutJob, PushJob, ResultJob } from '../workers/jobs'
import { BullQueue } from './bullmq'
import { MemoryQueue } from './memory'
import type { JobQueue, QueueDepth } from './types'

export interface Queues {
  fanout: JobQueue<FanoutJob>
  push: JobQueue<PushJob>
  result: JobQueue<ResultJob>
}

let queues: Queues | undefined

export function useQueues(): Queues {
  if (!queues) {
    const { redisUrl, queueStalledMs } = mercuryConfig()
    const make = <T>(name: string): JobQueue<T> => redisUrl
      ? new BullQueue<T>(name, redisUrl, { stalledIntervalMs: queueStalledMs })
      : new MemoryQueue<T>(name)
    queues = { fanout: make('fanout'), push: make('push'), result: make('result') }
  }
  return queues
}

/**
 * Jobs waiting in each queue; null when the queues cannot say within `timeoutMs` (Redis down: its
 * commands wait for the reconnection, and a figure that answers only then is no figure).
 */
export async function queueDepths(timeoutMs = 1000): Promise<{ fanout: QueueDepth, push: QueueDepth, result: QueueDepth } | null> {
  const { fanout, push, result } = useQueues()
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs)
  })
  const depths = Promise.all([fanout.depth(), push.depth(), result.depth()])
    .then(([f, p, r]) => ({ fanout: f, push: p, result: r }), () => null)
  return Promise.race([depths, late]).finally(() => clearTimeout(timer))
}

export async function closeQueues(): Promise<void> {
  if (!queues) return
  const { fanout, push, result } = queues
  // Producers first, the result queue last so that outcomes of finishing pushes are recorded: the
  // pushes this process finished queued their outcomes, which it records before it stops (with
  // Redis, no other worker may be running to record them).
  await fanout.close()
  await push.close()
  await drained(result, RESULT_DRAIN_MS)
  await result.close()
  queues = undefined
}

const RESULT_DRAIN_MS = 10_000

/** Waits until nothing is waiting or running in the queue, at most `timeoutMs`. */
async function drained(queue: JobQueue<unknown>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const depth = await queue.depth().catch(() => null)
    if (!depth || depth.waiting + depth.active === 0) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}
