import { MAX_TIMER_MS } from '#shared/utils/timers'
import { HANDLER_ATTEMPTS, handlerRetryDelayMs, reportJobFailure } from './retry'
import type { JobGroups, JobHandler, JobQueue, NewJob, QueueDepth } from './types'

interface Entry<T> {
  data: T
  id?: string
  failures: number
}

/** The group of every job of a queue processed without groups. */
const ALL = ''

/** A queue in this process's memory: nothing survives a restart (start-up sweeps re-queue). */
export class MemoryQueue<T> implements JobQueue<T> {
  /** Waiting jobs by group, each in order; a group is here while it has waiting jobs. */
  private readonly waiting = new Map<string, Entry<T>[]>()
  private waitingCount = 0
  private readonly running = new Map<string, number>()
  private groups?: JobGroups<T>
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
      else this.wait(entry)
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
      this.wait(entry)
      this.pump()
    }, Math.min(delayMs, MAX_TIMER_MS))
    this.timers.add(timer)
  }

  private wait(entry: Entry<T>) {
    const group = this.groups?.of(entry.data) ?? ALL
    const line = this.waiting.get(group)
    if (line) line.push(entry)
    else this.waiting.set(group, [entry])
    this.waitingCount++
  }

  process(handler: JobHandler<T>, concurrency: number, groups?: JobGroups<T>): void {
    this.handler = handler
    this.concurrency = concurrency
    this.groups = groups
    // Jobs queued before: into their groups, in order.
    const queued = [...this.waiting.values()].flat()
    this.waiting.clear()
    this.waitingCount = 0
    for (const entry of queued) this.wait(entry)
    this.pump()
  }

  /**
   * The first job of the first group (in the order their waits began) below its limit. A full group
   * holds `perGroup` of the running jobs, so few groups are ever passed over.
   */
  private next(): { entry: Entry<T>, group: string } | undefined {
    const perGroup = this.groups?.perGroup ?? Infinity
    for (const [group, line] of this.waiting) {
      if ((this.running.get(group) ?? 0) >= perGroup) continue
      const entry = line.shift()!
      if (line.length === 0) this.waiting.delete(group)
      this.waitingCount--
      return { entry, group }
    }
    return undefined
  }

  private pump() {
    while (this.handler && !this.closed && this.active < this.concurrency && this.waitingCount > 0) {
      const next = this.next()
      if (!next) return
      const { entry, group } = next
      this.active++
      this.running.set(group, (this.running.get(group) ?? 0) + 1)
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
        const running = this.running.get(group)! - 1
        if (running === 0) this.running.delete(group)
        else this.running.set(group, running)
        if (this.active === 0) this.idle?.()
        this.pump()
      })
    }
  }

  async depth(): Promise<QueueDepth> {
    return { waiting: this.waitingCount, active: this.active, delayed: this.timers.size }
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
