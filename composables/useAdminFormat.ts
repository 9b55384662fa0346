import { dateTimeSchema } from '#shared/schemas/dates'

const now = ref(Date.now())
let ticker: ReturnType<typeof setInterval> | undefined

/** A clock that ticks every second on the client, for "3 s ago" labels that stay true. */
export function useAdminNow() {
  if (import.meta.client && !ticker) ticker = setInterval(() => now.value = Date.now(), 1000)
  return now
}

export function timeAgo(value: string | Date | null | undefined, at: number): string {
  if (!value) return 'never'
  const seconds = Math.max(0, Math.round((at - new Date(value).getTime()) / 1000))
  if (seconds < 5) return 'just now'
  if (seconds < 60) return `${seconds} s ago`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`
  return `${Math.floor(seconds / 86_400)} d ago`
}

export function formatNumber(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—'
  return value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: 0 })
}

export function formatDateTime(value: string | null | undefined): string {
  if (!value) return '—'
  return new Date(value).toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'medium' })
}

/**
 * An instant as the API takes it (ISO 8601 with its offset) as the value of a datetime-local field,
 * in the viewer's time zone, with seconds only when it has them; '' when it is not one.
 */
export function toLocalInput(iso: string): string {
  const parsed = dateTimeSchema.safeParse(iso)
  if (!parsed.success) return ''
  const date = parsed.data
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 23).replace(/(?::00)?\.000$/, '')
}

/** A datetime-local field's value (local time) as an instant with its offset; '' stays ''. */
export function fromLocalInput(local: string): string {
  const date = new Date(local)
  // Not a date (no datetime-local field in this browser): sent as it is, for the API to say why.
  return local && !Number.isNaN(date.getTime()) ? date.toISOString() : local
}
