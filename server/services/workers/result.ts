import { useDb } from '../../utils/db'
import type { ResultJob } from './jobs'

const BATCH_MAX = 200
const BATCH_WAIT_MS = 50

interface LogEntry {
  attempt: number
  at: string
  status: string
  statusCode: number | null
  error: string | null
}

let pending: { job: ResultJob, done: () => void, failed: (error: unknown) => void }[] = []
let timer: NodeJS.Timeout | undefined

/**
 * Records outcomes in batches: jobs wait up to 50 ms (or until 200 are waiting), then one
 * transaction writes them all. A job completes only once its outcome is written.
 */
export function runResult(job: ResultJob): Promise<void> {
  return new Promise((resolve, reject) => {
    pending.push({ job, done: resolve, failed: reject })
    if (pending.length >= BATCH_MAX) void flush()
    else timer ??= setTimeout(() => void flush(), BATCH_WAIT_MS)
  })
}

async function flush() {
  clearTimeout(timer)
  timer = undefined
  const batch = pending
  pending = []
  if (batch.length === 0) return
  try {
    await write(batch.map(b => b.job))
    for (const b of batch) b.done()
  }
  catch (error) {
    for (const b of batch) b.failed(error)
  }
}

async function write(jobs: ResultJob[]) {
  const db = useDb()
  const ids = [...new Set(jobs.map(j => j.deliveryId))]
  const rows = await db.delivery.findMany({ where: { id: { in: ids } }, select: { id: true, attempts: true, log: true, status: true } })
  const updates = []
  const expiredDevices = new Set<string>()
  for (const row of rows) {
    const log = new Map<number, LogEntry>((JSON.parse(row.log) as LogEntry[]).map(e => [e.attempt, e]))
    // At-least-once delivery may bring the same attempt twice: the log keeps one per attempt.
    for (const job of jobs.filter(j => j.deliveryId === row.id)) {
      log.set(job.attempt, { attempt: job.attempt, at: job.at, status: job.status, statusCode: job.statusCode, error: job.error })
      if (job.status === 'expired') expiredDevices.add(job.deviceId)
    }
    const entries = [...log.values()].sort((a, b) => a.attempt - b.attempt)
    const last = entries.at(-1)!
    // A final outcome is never overwritten by an older attempt's retry record.
    const final = entries.find(e => e.status !== 'queued')
    const state = final && final.attempt >= last.attempt ? final : last
    updates.push(db.delivery.update({
      where: { id: row.id },
      data: { status: state.status, attempts: last.attempt, statusCode: state.statusCode, error: state.error, log: JSON.stringify(entries) },
    }))
  }
  if (expiredDevices.size > 0) {
    updates.push(db.device.updateMany({ where: { id: { in: [...expiredDevices] }, disabledAt: null }, data: { disabledAt: new Date() } }))
  }
  await db.$transaction(updates)
}

/** Writes what is waiting now (at shutdown). */
export function flushResults(): Promise<void> {
  return flush()
}
