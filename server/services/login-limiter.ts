import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import { mercuryConfig } from '../utils/config'

// Failed logins are counted per username and per client address; past the limit the caller gets
// 429 with Retry-After until the window ends. A success clears the username's count.
let limiters: { byUser: RateLimiterMemory, byAddress: RateLimiterMemory } | undefined

function useLimiters() {
  if (!limiters) {
    const { loginMaxFailures, loginWindowSeconds } = mercuryConfig()
    limiters = {
      byUser: new RateLimiterMemory({ keyPrefix: 'login-user', points: loginMaxFailures, duration: loginWindowSeconds }),
      // One address may try several accounts (a shared NAT, a typo in the username), so allow more.
      byAddress: new RateLimiterMemory({ keyPrefix: 'login-addr', points: loginMaxFailures * 5, duration: loginWindowSeconds }),
    }
  }
  return limiters
}

/** Seconds the caller must wait, or 0 when it may try now. */
export async function loginBlockedFor(username: string, address: string): Promise<number> {
  const { byUser, byAddress } = useLimiters()
  const [user, addr] = await Promise.all([byUser.get(username.toLowerCase()), byAddress.get(address)])
  const waits = [[user, byUser.points], [addr, byAddress.points]] as const
  let seconds = 0
  for (const [res, points] of waits) {
    if (res && res.consumedPoints >= points) seconds = Math.max(seconds, Math.ceil(res.msBeforeNext / 1000))
  }
  return seconds
}

export async function recordLoginFailure(username: string, address: string): Promise<void> {
  const { byUser, byAddress } = useLimiters()
  await Promise.all([
    byUser.penalty(username.toLowerCase(), 1),
    byAddress.penalty(address, 1),
  ]).catch((error: unknown) => {
    if (!(error instanceof RateLimiterRes)) throw error
  })
}

export async function recordLoginSuccess(username: string): Promise<void> {
  await useLimiters().byUser.delete(username.toLowerCase())
}
