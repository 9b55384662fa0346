import { createHash, randomBytes } from 'node:crypto'

/** A new random secret for tokens: a prefix that says what it is, then 32 random bytes. */
export function newToken(prefix: 'mpat' | 'msrc'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`
}

/** Tokens have 256 bits of entropy, so a fast hash is enough to store them (unlike passwords). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}
