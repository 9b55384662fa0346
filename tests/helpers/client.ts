// A small HTTP client for tests: JSON in and out, keeps the session cookie like a browser would.

export interface ApiResponse<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  status: number
  headers: Headers
  body: T
}

export class ApiClient {
  cookie = ''
  token = ''

  constructor(readonly baseUrl: string) {}

  async request<T = any>(method: string, path: string, body?: unknown, init: RequestInit & { raw?: boolean } = {}): Promise<ApiResponse<T>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const headers = new Headers(init.headers)
    if (this.cookie && !headers.has('cookie')) headers.set('cookie', this.cookie)
    if (this.token && !headers.has('authorization')) headers.set('authorization', `Bearer ${this.token}`)
    let payload: BodyInit | undefined
    if (body !== undefined) {
      if (init.raw) {
        payload = body as BodyInit
      }
      else {
        payload = JSON.stringify(body)
        if (!headers.has('content-type')) headers.set('content-type', 'application/json')
      }
    }
    const res = await fetch(this.baseUrl + path, { ...init, method, headers, body: payload, redirect: 'manual' })
    const setCookie = res.headers.getSetCookie().find(c => c.startsWith('mercury-session='))
    if (setCookie) this.cookie = setCookie.split(';')[0]!
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = text ? JSON.parse(text) : null
    }
    catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, body: parsed as T }
  }

  get<T = any>(path: string, init?: RequestInit) { return this.request<T>('GET', path, undefined, init) } // eslint-disable-line @typescript-eslint/no-explicit-any
  post<T = any>(path: string, body?: unknown, init?: RequestInit & { raw?: boolean }) { return this.request<T>('POST', path, body, init) } // eslint-disable-line @typescript-eslint/no-explicit-any
  patch<T = any>(path: string, body?: unknown, init?: RequestInit) { return this.request<T>('PATCH', path, body, init) } // eslint-disable-line @typescript-eslint/no-explicit-any
  delete<T = any>(path: string, body?: unknown, init?: RequestInit) { return this.request<T>('DELETE', path, body, init) } // eslint-disable-line @typescript-eslint/no-explicit-any

  async login(username: string, password: string): Promise<ApiResponse> {
    const res = await this.post('/api/auth/login', { username, password })
    if (res.status !== 200) throw new Error(`login as ${username} failed: ${res.status} ${JSON.stringify(res.body)}`)
    return res
  }
}

/** Logs in as the seeded admin and creates a plain user; returns a client for each. */
export async function adminAndUser(baseUrl: string, adminPassword: string, username = 'alice') {
  const admin = new ApiClient(baseUrl)
  await admin.login('admin', adminPassword)
  const created = await admin.post('/api/admin/users', { username, password: 'user-password-1', role: 'user' })
  if (created.status !== 201) throw new Error(`could not create ${username}: ${JSON.stringify(created.body)}`)
  const user = new ApiClient(baseUrl)
  await user.login(username, 'user-password-1')
  return { admin, user, userId: created.body.id as string }
}
