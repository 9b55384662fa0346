import { z } from 'zod'
import '../utils/zod-messages'

/**
 * A date given in a query string (`?before=`, `?since=`). Only years 1 to 9999: the database's
 * DateTime cannot hold others (`+066768-10-19T…` is a valid JavaScript date that Prisma refuses).
 */
export const queryDateSchema = z.coerce.date()
  .refine(date => date.getUTCFullYear() >= 1 && date.getUTCFullYear() <= 9999, 'must be a date between the years 1 and 9999')

/** With `before`: the id of the last item of the previous page (items of one instant come by id). */
export const beforeIdSchema = z.string().min(1).max(64)
