import { mercuryConfig } from '../../utils/config'
import type { FanoutJob, PushJob, ResultJob } from '../workers/jobs'
import { BullQueue } from './bullmq'
import { MemoryQueue } from './memory'
import type { JobQueue } from './types'

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

export async function queueDepths() {
  const { fanout, push, result } = useQueues()
  const [f, p, r] = await Promise.all([fanout.depth(), push.depth(), result.depth()])
  return { fanout: f, push: p, result: r }
}

export async function closeQueues(): Promise<void> {
  if (!queues) return
  const { fanout, push, result } = queues
  // Producers first, the result queue last so that outcomes of finishing pushes are recorded.
  await fanout.close()
  await push.close()
  await result.close()
  queues = undefined
}
