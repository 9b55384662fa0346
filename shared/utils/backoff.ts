/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from `base`, capped at `max`,
 * with "full jitter" so that many clients dropped at once do not come back in step.
 */
export function backoffDelay(attempt: number, { base = 500, max = 30_000, random = Math.random } = {}): number {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling / 2 + random() * ceiling / 2)
}
