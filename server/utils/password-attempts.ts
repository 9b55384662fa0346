import type { H3Event } from 'h3'
import { reserveLoginAttempt } from '../services/login-limiter'

/**
 * Counts a password guess (a login, or the current password of a change) against the caller's
 * allowance before the password is checked; 429 with Retry-After past it. Returns the caller's
 * address, which a right password gives its attempt back to (recordLoginSuccess).
 */
export async function passwordAttempt(event: H3Event, username: string, what: string): Promise<string> {
  const address = clientAddress(event)
  const wait = await reserveLoginAttempt(username, address)
  if (wait > 0) {
    setResponseHeader(event, 'Retry-After', wait)
    throw createError({ statusCode: 429, statusMessage: 'Too Many Requests', message: `Too many failed ${what}; try again in ${wait} s`, data: { retryAfter: wait } })
  }
  return address
}
