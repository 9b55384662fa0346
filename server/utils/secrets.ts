import { hash, randomBytes } from 'node:crypto'

/** A new random secret for tokens: a prefix that says what it is, then 32 random bytes. */
export function newToken(prefix: 'mpat' | 'msrc'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`
}

/**
 * Tokens have 256 bits of entropy, so a fast hash is enough to store them (unlike passwords).
 * One-shot `hash` (no Hash object): it runs on every REST publish and token check.
 */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex')
}
