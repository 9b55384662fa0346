import { z } from 'zod'
import { useZodMessages } from '../utils/zod-messages'

useZodMessages()

/**
 * A date-time as the API takes it, in a query (`?before=`, `?since=`) or a body (`upTo`): ISO 8601
 * with its offset (`2026-01-31T12:00:00Z`, `…+01:00`), nothing else. What `new Date()` would also
 * read (`2026`, `1.5`, `-1`, "Jan 31 2026") is refused: it names another instant than the one
 * meant, or none. Only years 1 to 9999 (in UTC): the database's DateTime cannot hold others.
 */
export const dateTimeSchema = z.iso.datetime({ offset: true, error: issue => notDateTime(issue.input) })
  .transform(text => new Date(text))
  .refine(date => date.getUTCFullYear() >= 1 && date.getUTCFullYear() <= 9999, 'must be a date between the years 1 and 9999')

// A `+` typed in a URL query reaches the server as a space: `…T13:00:00+01:00` as `…T13:00:00 01:00`.
function notDateTime(input: unknown): string {
  const example = 'must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z'
  return typeof input === 'string' && / \d{2}:\d{2}$/.test(input) ? `${example} (write + as %2B in a URL query)` : example
}

/**
 * A whole number in a query string: decimal digits only. `Number()` would also read `0x10`, `1e1`,
 * ` 5`, `+5`, and an empty value as 0. No `.int()`: the digits make it whole, and a number past
 * 2^53 would be refused twice (not a safe int, and too large); one of 400 digits (Infinity, not a
 * number to zod) is only too large too.
 */
export function queryIntSchema(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.string().regex(/^\d+$/, 'must be a whole number (decimal digits)')
    .transform(text => Math.min(Number(text), Number.MAX_VALUE))
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
}

/** With `before`: the id of the last item of the previous page (items of one instant come by id). */
export const beforeIdSchema = z.string().min(1).max(64)

/** For a query's refine: `beforeId` means something only with the `before` of the same page. */
export const beforeIdNeedsBefore: [(q: { before?: Date, beforeId?: string }) => boolean, { error: string, path: string[] }] = [
  q => q.beforeId === undefined || q.before !== undefined,
  { error: 'give it with before (the nextBefore and nextBeforeId of the previous page)', path: ['beforeId'] },
]
