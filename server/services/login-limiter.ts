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
