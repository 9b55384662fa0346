// Job queues behind one interface: in-process by default, BullMQ on Redis when REDIS_URL is set.

export interface NewJob<T> {
  data: T
  /** Start no sooner than this many ms from now. */
  delayMs?: number
  /** A job id already queued is not queued twice (BullMQ); makes re-queuing after a crash safe. */
  id?: string
}

export interface QueueDepth {
  waiting: number
  active: number
  delayed: number
}

export type JobHandler<T> = (data: T) => Promise<void>

/**
 * Jobs of one group (the pushes to one push service) run at most `perGroup` at once in a process:
 * the others wait for their group, taking no slot of the concurrency and no try, so that a group
 * whose jobs hang cannot hold up the jobs of the other groups.
 */
export interface JobGroups<T> {
  of(data: T): string
  perGroup: number
}

export interface JobQueue<T> {
  readonly name: string
  add(jobs: NewJob<T>[]): Promise<void>
  /** Starts consuming in this process. A handler that throws is tried again with backoff (see retry.ts). */
  process(handler: JobHandler<T>, concurrency: number, groups?: JobGroups<T>): void
  depth(): Promise<QueueDepth>
  /** Stops taking jobs, waits for the running ones (or hands them back), closes connections. */
  close(): Promise<void>
}
