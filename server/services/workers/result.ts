import { executeRaw, queryRaw, useDb } from '../../utils/db'
import type { ResultJob } from './jobs'

const BATCH_MAX = 200
const BATCH_WAIT_MS = 50

interface LogEntry {
  attempt: number
  at: string
  status: string
  statusCode: number | null
  error: string | null
  retryAt?: string
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

// One batch is written at a time: each reads the attempt logs it adds to, so two at once could
// each write back a log without the other's entry (a retry answered within milliseconds).
let writing: Promise<void> = Promise.resolve()

function flush(): Promise<void> {
  clearTimeout(timer)
  timer = undefined
  const batch = pending
  pending = []
  if (batch.length === 0) return writing
  writing = writing.then(() => writeBatch(batch))
  return writing
}

async function writeBatch(batch: typeof pending) {
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
  const byDelivery = Map.groupBy(jobs, j => j.deliveryId)
  const rows = await queryRaw<{ id: string, log: string }>(sql => `SELECT "id", "log" FROM "Delivery" WHERE "id" IN ${sql.list([...byDelivery.keys()])}`)
  const updates: Row[] = []
  const expiredDevices = new Set<string>()
  for (const row of rows) {
    const log = new Map<number, LogEntry>((JSON.parse(row.log) as LogEntry[]).map(e => [e.attempt, e]))
    // At-least-once delivery may bring the same attempt twice: the log keeps one per attempt.
    for (const job of byDelivery.get(row.id) ?? []) {
      log.set(job.attempt, { attempt: job.attempt, at: job.at, status: job.status, statusCode: job.statusCode, error: job.error, ...(job.retryAt ? { retryAt: job.retryAt } : {}) })
      if (job.status === 'expired') expiredDevices.add(job.deviceId)
    }
    const entries = [...log.values()].sort((a, b) => a.attempt - b.attempt)
    const last = entries.at(-1)!
    // A final outcome is never overwritten by an older attempt's retry record.
    const final = entries.find(e => e.status !== 'queued')
    const state = final && final.attempt >= last.attempt ? final : last
    updates.push({ id: row.id, status: state.status, attempts: last.attempt, statusCode: state.statusCode, error: state.error, log: JSON.stringify(entries) })
  }
  const writes = []
  if (updates.length > 0) writes.push(updateDeliveries(updates, new Date()))
  if (expiredDevices.size > 0) {
    writes.push(db.device.updateMany({ where: { id: { in: [...expiredDevices] }, disabledAt: null }, data: { disabledAt: new Date() } }))
  }
  // One statement is atomic by itself; two (an expired device) go in one transaction.
  if (writes.length === 1) await writes[0]
  else if (writes.length > 1) await db.$transaction(writes)
}

interface Row {
  id: string
  status: string
  attempts: number
  statusCode: number | null
  error: string | null
  log: string
}

/** One UPDATE for the whole batch (see `rawStatement`): the same statement text whatever its size. */
function updateDeliveries(rows: Row[], at: Date) {
  return executeRaw((sql) => {
    const batch = sql.records(rows, { id: 'text', status: 'text', attempts: 'int', statusCode: 'int', error: 'text', log: 'text' })
    const set = (['status', 'attempts', 'statusCode', 'error', 'log'] as const).map(name => `"${name}" = ${batch.column(name)}`).join(', ')
    return `UPDATE "Delivery" SET ${set}, "updatedAt" = ${sql.timestamp(at)} FROM ${batch.from} WHERE "Delivery"."id" = ${batch.column('id')}`
  })
}

/** Writes what is waiting now (at shutdown). */
export function flushResults(): Promise<void> {
  return flush()
}
