import { describe, expect, it, vi } from 'vitest'
import { sourceById } from '../../server/services/sources'

const rows = vi.hoisted(() => new Map<string, { id: string, name: string, status: string, topics: string, tokenHash: string }>())
const findUnique = vi.hoisted(() => vi.fn(async ({ where }: { where: { id: string } }) => rows.get(where.id) ?? null))

vi.mock('../../server/utils/db', () => ({ useDb: () => ({ source: { findUnique } }), executeRaw: vi.fn() }))
vi.mock('../../server/utils/config', () => ({ mercuryConfig: () => ({ sourceCacheSeconds: 30 }) }))

describe('sourceById', () => {
  it('keeps a source it found, and nothing of one deleted: its producers look it up once, then close', async () => {
    rows.set('live', { id: 'live', name: 'live', status: 'active', topics: 'a.*', tokenHash: 'h' })
    expect(await sourceById('live')).toMatchObject({ id: 'live', patterns: ['a.*'] })
    expect(await sourceById('live')).toMatchObject({ id: 'live' })
    expect(findUnique).toHaveBeenCalledTimes(1)

    findUnique.mockClear()
    expect(await sourceById('deleted')).toBeNull()
    expect(await sourceById('deleted')).toBeNull()
    // Not remembered: each look-up reads the database (an entry kept would stay for ever).
    expect(findUnique).toHaveBeenCalledTimes(2)
  })
})
