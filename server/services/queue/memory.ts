import { MAX_TIMER_MS } from '#shared/utils/timers'
import { HANDLER_ATTEMPTS, handlerRetryDelayMs, reportJobFailure } from './retry'
import type { JobHandler, JobQueue, NewJob, QueueDepth } from './types'

interface Entry<T> {
  data: T
  id?: string
  failures: number
}

/** A queue in this process's memory: nothing survives a restart (start-up sweeps re-queue). */
export class MemoryQueue<T> implements JobQueue<T> {
  private readonly waiting: Entry<T>[] = []
  private readonly ids = new Set<string>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private handler?: JobHandler<T>
  private concurrency = 1
  private active = 0
  private closed = false
  private idle?: () => void

  constructor(readonly name: string) {}

  async add(jobs: NewJob<T>[]): Promise<void> {
    for (const job of jobs) {
      if (job.id) {
        if (this.ids.has(job.id)) continue
        this.ids.add(job.id)
      }
      const entry = { data: job.data, id: job.id, failures: 0 }
      if (job.delayMs && job.delayMs > 0) this.later(entry, job.delayMs)
      else this.waiting.push(entry)
    }
    this.pump()
  }

  private later(entry: Entry<T>, delayMs: number) {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      // A delay longer than one timer takes is waited in steps.
      if (delayMs > MAX_TIMER_MS) {
        this.later(entry, delayMs - MAX_TIMER_MS)
        return
      }
      this.waiting.push(entry)
      this.pump()
    }, Math.min(delayMs, MAX_TIMER_MS))
    this.timers.add(timer)
  }

  process(handler: JobHandler<T>, concurrency: number): void {
    this.handler = handler
    this.concurrency = concurrency
    this.pump()
  }

  private pump() {
    while (this.handler && !this.closed && this.active < this.concurrency && this.waiting.length > 0) {
      const entry = this.waiting.shift()!
      this.active++
      this.handler(entry.data).then(() => {
        if (entry.id) this.ids.delete(entry.id)
      }, (error: unknown) => {
        entry.failures++
        reportJobFailure(this.name, entry.failures, error)
        if (entry.failures < HANDLER_ATTEMPTS) {
          this.later(entry, handlerRetryDelayMs(entry.failures))
          return
        }
        if (entry.id) this.ids.delete(entry.id)
      }).finally(() => {
        this.active--
        if (this.active === 0) this.idle?.()
        this.pump()
      })
    }
  }

  async depth(): Promise<QueueDepth> {
    return { waiting: this.waiting.length, active: this.active, delayed: this.timers.size }
  }

  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    if (this.active > 0) {
      await Promise.race([
        new Promise<void>(resolve => this.idle = resolve),
        new Promise(resolve => setTimeout(resolve, 10_000)),
      ])
    }
  }
}
