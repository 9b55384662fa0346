// Times shown as people say them: "just now", "5 min ago", then the date.
const minute = 60_000

export function formatWhen(iso: string, now = Date.now()): string {
  const t = Date.parse(iso)
  const ago = now - t
  if (ago < minute) return 'just now'
  if (ago < 60 * minute) return `${Math.floor(ago / minute)} min ago`
  const date = new Date(t)
  const today = new Date(now)
  if (date.toDateString() === today.toDateString()) return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: date.getFullYear() === today.getFullYear() ? undefined : 'numeric' })
}
