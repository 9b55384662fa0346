import type { z } from 'zod'

/** The server's message for a failed request ("Invalid body: name: is required"). */
export function errorMessage(error: unknown, fallback = 'Something went wrong'): string {
  const data = (error as { data?: { message?: string } }).data
  if (data?.message) return data.message
  // No answer at all (offline, the server away): the fetch's own text names the request, not the trouble.
  if (errorStatus(error) === undefined) return 'The server could not be reached: check the connection, then try again'
  return (error as Error).message ?? fallback
}

export function errorStatus(error: unknown): number | undefined {
  return (error as { statusCode?: number, status?: number }).statusCode ?? (error as { status?: number }).status
}

/** Validates with the API's own zod schema; the errors are keyed by field for the form. */
export function validateForm<S extends z.ZodType>(schema: S, value: unknown):
  { ok: true, data: z.output<S> } | { ok: false, errors: Record<string, string> } {
  const result = schema.safeParse(value)
  if (result.success) return { ok: true, data: result.data }
  const errors: Record<string, string> = {}
  for (const issue of result.error.issues) {
    const key = issue.path.length ? String(issue.path[0]) : '_'
    errors[key] ??= issue.message
  }
  return { ok: false, errors }
}

/** A short-lived message for the page's status line. */
export function useAdminNotice() {
  const notice = ref<{ kind: 'ok' | 'error', text: string } | null>(null)
  let timer: ReturnType<typeof setTimeout> | undefined
  function show(kind: 'ok' | 'error', text: string) {
    notice.value = { kind, text }
    clearTimeout(timer)
    timer = setTimeout(() => notice.value = null, kind === 'ok' ? 4000 : 8000)
  }
  return { notice, ok: (text: string) => show('ok', text), fail: (error: unknown) => show('error', errorMessage(error)) }
}

type AdminFetchOptions = { method?: 'GET' | 'POST' | 'PATCH' | 'DELETE', body?: object, query?: Record<string, unknown> }

/**
 * $fetch without Nitro's route typing: the typed form makes TypeScript compare every route for
 * URLs built from ids, which overflows its stack.
 */
export function adminFetch<T = unknown>(url: string, options?: AdminFetchOptions): Promise<T> {
  return ($fetch as unknown as (url: string, options?: AdminFetchOptions) => Promise<T>)(url, options)
}
