// How a job whose handler throws is tried again, the same for both queues. Handlers throw when
// something they need is away (the database, Redis): they are retried for about 35 minutes, so
// that an outage of that length loses no job, then dropped with a log line.

/** Tries of a job whose handler throws, the first one included. */
export const HANDLER_ATTEMPTS = 40

const FIRST_RETRY_MS = 1000
const LONGEST_RETRY_MS = 60_000

/** The wait before the next try after `failures` failed ones: 1 s, 2 s, 4 s … at most 1 minute. */
export function handlerRetryDelayMs(failures: number): number {
  return Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1))
}
