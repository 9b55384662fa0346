import { Queue, Worker, type ConnectionOptions } from 'bullmq'
import { warnAtMostEveryMinute } from '../../utils/warn'
import { HANDLER_ATTEMPTS, handlerRetryDelayMs, reportJobFailure } from './retry'
import type { JobHandler, JobQueue, NewJob, QueueDepth } from './types'

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

  process(handler: JobHandler<T>, concurrency: number): void {
    // A running job's lock is renewed every half of its duration (only an event loop blocked that
    // long loses it); a killed worker's jobs move on once their lock lapses and the next check for
    // stalled jobs runs: 0.5 to 1.5 times MERCURY_QUEUE_STALLED_MS after the kill (the lock is at
    // least 5 s).
    const lockDuration = Math.max(5000, this.options.stalledIntervalMs)
    this.worker = new Worker(`mercury-${this.name}`, job => handler(job.data as T), {
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
