import { DelayedError, Queue, Worker, type ConnectionOptions, type Job } from 'bullmq'
import { warnAtMostEveryMinute } from '../../utils/warn'
import { HANDLER_ATTEMPTS, handlerRetryDelayMs, reportJobFailure } from './retry'
import type { JobGroups, JobHandler, JobQueue, NewJob, QueueDepth } from './types'

export interface BullOptions {
  /** How soon a job whose worker died is handed to another worker. */
  stalledIntervalMs: number
}

/**
 * BullMQ on Redis: jobs survive a process, and a job whose worker was killed is given to another
 * (at-least-once). A stopped worker finishes its running jobs before it closes.
 */
export class BullQueue<T> implements JobQueue<T> {
  private readonly queue: Queue
  private worker?: Worker

  constructor(readonly name: string, private readonly redisUrl: string, private readonly options: BullOptions) {
    this.queue = new Queue(`mercury-${name}`, {
      connection: connection(redisUrl),
      defaultJobOptions: {
        attempts: HANDLER_ATTEMPTS,
        backoff: { type: 'mercury' },
        removeOnComplete: true,
        removeOnFail: 1000,
      },
    })
    this.queue.on('error', error => warnAtMostEveryMinute(`queue ${name}`, error.message))
  }

  async add(jobs: NewJob<T>[]): Promise<void> {
    if (jobs.length === 0) return
    await this.queue.addBulk(jobs.map(job => ({
      name: this.name,
      data: job.data,
      opts: { delay: job.delayMs, jobId: job.id },
    })))
  }

  process(handler: JobHandler<T>, concurrency: number, groups?: JobGroups<T>): void {
    // A running job's lock is renewed every half of its duration (only an event loop blocked that
    // long loses it); a killed worker's jobs move on once their lock lapses and the next check for
    // stalled jobs runs: 0.5 to 1.5 times MERCURY_QUEUE_STALLED_MS after the kill (the lock is at
    // least 5 s).
    const lockDuration = Math.max(5000, this.options.stalledIntervalMs)
    const run = groups ? grouped(groups, handler) : (job: Job) => handler(job.data as T)
    this.worker = new Worker(`mercury-${this.name}`, run, {
      connection: connection(this.redisUrl),
      concurrency,
      stalledInterval: Math.max(1000, Math.min(this.options.stalledIntervalMs, Math.round(lockDuration / 2))),
      lockDuration,
      maxStalledCount: 10,
      settings: { backoffStrategy: attemptsMade => handlerRetryDelayMs(attemptsMade) },
    })
    this.worker.on('error', error => warnAtMostEveryMinute(`worker ${this.name}`, error.message))
    this.worker.on('failed', (job, error) => {
      if (job) reportJobFailure(this.name, job.attemptsMade, error)
    })
  }

  async depth(): Promise<QueueDepth> {
    const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')
    return { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0), active: counts.active ?? 0, delayed: counts.delayed ?? 0 }
  }

  async close(): Promise<void> {
    await this.worker?.close()
    await this.queue.close()
  }
}

/** A job's run time assumed for a group none of whose jobs has finished yet. */
const FIRST_GUESS_MS = 1000

/**
 * Groups for BullMQ, which hands out jobs in queue order whatever their group: a job whose group
 * is full in this process goes back to the queue (delayed, no try used) until about when its turn
 * comes: the group's jobs are given back turns one after the other, spaced by the group's recent
 * run time divided by `perGroup` (the pace at which the group's slots free). The order within a
 * group is kept roughly, not exactly.
 */
function grouped<T>({ of, perGroup }: JobGroups<T>, handler: JobHandler<T>) {
  const state = new Map<string, { running: number, averageMs: number, nextTurnAt: number }>()
  return async (job: Job, token?: string) => {
    const data = job.data as T
    const group = of(data)
    let current = state.get(group)
    if (!current) state.set(group, current = { running: 0, averageMs: 0, nextTurnAt: 0 })
    const now = Date.now()
    if (current.running >= perGroup) {
      current.nextTurnAt = Math.max(now, current.nextTurnAt) + (current.averageMs || FIRST_GUESS_MS) / perGroup
      await job.moveToDelayed(current.nextTurnAt, token)
      throw new DelayedError()
    }
    current.running++
    try {
      await handler(data)
    }
    finally {
      const ms = Date.now() - now
      current.averageMs = current.averageMs ? current.averageMs * 0.8 + ms * 0.2 : ms
      if (--current.running === 0 && current.nextTurnAt <= Date.now()) state.delete(group)
    }
  }
}

function connection(url: string): ConnectionOptions {
  const parsed = new URL(url)
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username || undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    // BullMQ's blocking commands must wait for Redis, not give up.
    maxRetriesPerRequest: null,
  }
}
