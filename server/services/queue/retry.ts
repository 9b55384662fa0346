// How a job whose handler throws is tried again, the same for both queues. Handlers throw when
// something they need is away (the database, Redis): they are retried for about 35 minutes, so
// that an outage of that length loses no job, then dropped with a log line.

import { warnAtMostEveryMinute } from '../../utils/warn'

/** Tries of a job whose handler throws, the first one included. */
export const HANDLER_ATTEMPTS = 40

const FIRST_RETRY_MS = 1000
const LONGEST_RETRY_MS = 60_000

/** The wait before the next try after `failures` failed ones: 1 s, 2 s, 4 s … at most 1 minute. */
export function handlerRetryDelayMs(failures: number): number {
  return Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1))
}

/**
 * A job whose handler threw `failures` times: retried (logged at most once a minute per queue, so
 * that a job failing for a reason that does not go away shows before it is dropped), or dropped
 * after HANDLER_ATTEMPTS with a line of its own.
 */
export function reportJobFailure(queue: string, failures: number, error: unknown): void {
  if (failures >= HANDLER_ATTEMPTS) {
    console.error(`mercury: ${queue} job failed ${HANDLER_ATTEMPTS} times, dropped:`, error)
    return
  }
  const message = error instanceof Error ? error.message : String(error)
  warnAtMostEveryMinute(`${queue} job failed (tried again shortly)`, message)
}
