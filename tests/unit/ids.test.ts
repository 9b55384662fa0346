import { describe, expect, it } from 'vitest'
import { timeOrderedId } from '../../server/utils/ids'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('time-ordered ids', () => {
  it('are UUIDv7 carrying their millisecond', () => {
    const at = Date.UTC(2026, 10, 24, 12, 0, 0, 123)
    const id = timeOrderedId(at + 1_000_000) // later than any id made before in this process
    expect(id).toMatch(UUID_V7)
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at + 1_000_000)
  })

  it('sort in the order they were made, within one millisecond too, and never repeat', () => {
    const at = Date.now() + 2_000_000
    const ids = Array.from({ length: 5000 }, (_, i) => timeOrderedId(at + Math.floor(i / 1000)))
    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(UUID_V7)
  })

  it('borrow the next millisecond past 4,096 in one, and never go back when the clock does', () => {
    const at = Date.now() + 3_000_000
    const ids = Array.from({ length: 4100 }, () => timeOrderedId(at))
    expect([...ids].sort()).toEqual(ids)
    const earlier = timeOrderedId(at - 5000)
    expect(earlier > ids.at(-1)!).toBe(true)
  })
})
