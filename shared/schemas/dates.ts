import { z } from 'zod'
import '../utils/zod-messages'

/**
 * A date given in a query string (`?before=`, `?since=`). Only years 1 to 9999: the database's
 * DateTime cannot hold others (`+066768-10-19T…` is a valid JavaScript date that Prisma refuses).
 */
export const queryDateSchema = z.coerce.date({ error: 'must be a date, e.g. 2026-01-31T12:00:00Z' })
  .refine(date => date.getUTCFullYear() >= 1 && date.getUTCFullYear() <= 9999, 'must be a date between the years 1 and 9999')

/** With `before`: the id of the last item of the previous page (items of one instant come by id). */
export const beforeIdSchema = z.string().min(1).max(64)

/** For a query's refine: `beforeId` means something only with the `before` of the same page. */
export const beforeIdNeedsBefore: [(q: { before?: Date, beforeId?: string }) => boolean, { error: string, path: string[] }] = [
  q => q.beforeId === undefined || q.before !== undefined,
  { error: 'give it with before (the nextBefore and nextBeforeId of the previous page)', path: ['beforeId'] },
]
