import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import { mercuryConfig } from '../utils/config'
import { useSharedRedis } from './realtime'

// Failed logins are counted per username and per client address; past the limit the caller gets
// 429 with Retry-After until the window ends. A success clears the username's count. Scaled out
// on Redis the counts are kept there, shared by every instance (an attacker gains nothing by
// spreading attempts over them); while Redis is unreachable each instance counts for itself.
let limiters: { byUser: RateLimiterAbstract, byAddress: RateLimiterAbstract } | undefined

function limiter(keyPrefix: string, points: number, duration: number): RateLimiterAbstract {
  const memory = new RateLimiterMemory({ keyPrefix, points, duration })
  const redis = useSharedRedis()
  if (!redis) return memory
  return new RateLimiterRedis({ storeClient: redis, keyPrefix: `mercury:${keyPrefix}`, points, duration, insuranceLimiter: memory, rejectIfRedisNotReady: true })
}

function useLimiters() {
  if (!limiters) {
    const { loginMaxFailures, loginWindowSeconds } = mercuryConfig()
    limiters = {
      byUser: limiter('login-user', loginMaxFailures, loginWindowSeconds),
      // One address may try several accounts (a shared NAT, a typo in the username), so allow more.
      byAddress: limiter('login-addr', loginMaxFailures * 5, loginWindowSeconds),
    }
  }
  return limiters
}

/**
 * Takes one attempt from the caller's allowance (per username and per address) before the password
 * is checked, so that guesses sent all at once are counted as they arrive, not after their slow
 * checks. Resolves to 0 when the caller may try, else to the seconds it must wait (the attempt is
 * then given back to whichever allowance was not used up). A failure keeps the attempt counted.
 */
export async function reserveLoginAttempt(username: string, address: string): Promise<number> {
  const { byUser, byAddress } = useLimiters()
  const keys = [[byUser, username.toLowerCase()], [byAddress, address]] as const
  const results = await Promise.allSettled(keys.map(([limiter, key]) => limiter.consume(key)))
  let seconds = 0
  for (const result of results) {
    if (result.status === 'fulfilled') continue
    if (!(result.reason instanceof RateLimiterRes)) throw result.reason
    seconds = Math.max(seconds, Math.max(1, Math.ceil(result.reason.msBeforeNext / 1000)))
  }
  if (seconds > 0) {
    await Promise.all(keys.map(([limiter, key], i) => results[i]!.status === 'fulfilled' ? limiter.reward(key, 1) : null))
  }
  return seconds
}

/** A right password: the username's count starts again, and the address gets its attempt back. */
export async function recordLoginSuccess(username: string, address: string): Promise<void> {
  const { byUser, byAddress } = useLimiters()
  await Promise.all([byUser.delete(username.toLowerCase()), byAddress.reward(address, 1)])
}

/** An attempt that could not be checked (the database away): it does not count as a failure. */
export async function releaseLoginAttempt(username: string, address: string): Promise<void> {
  const { byUser, byAddress } = useLimiters()
  await Promise.all([byUser.reward(username.toLowerCase(), 1), byAddress.reward(address, 1)])
}
