import { describe, expect, it } from 'vitest'
import { createInboxStore, createReadQueue, type KeyValueStorage } from '#shared/inbox/store'
import { filterItems, newestFirst, prunable, snapshotOf } from '#shared/inbox/logic'
import { fromFrame, fromPush, type InboxItem } from '#shared/inbox/types'
import { backoffDelay } from '#shared/utils/backoff'

function memoryStorage(): KeyValueStorage {
  const map = new Map<string, unknown>()
  return {
    getItem: async <T>(k: string) => (map.has(k) ? structuredClone(map.get(k)) as T : null),
    setItem: async <T>(k: string, v: T) => {
      map.set(k, structuredClone(v))
      return v
    },
    removeItem: async (k) => {
      map.delete(k)
    },
    keys: async () => [...map.keys()],
    iterate: async <T, U>(cb: (v: T, k: string, n: number) => U) => {
      let n = 0
      for (const [k, v] of map) cb(structuredClone(v) as T, k, ++n)
      return undefined as U
    },
    clear: async () => map.clear(),
  }
}

function item(id: string, over: Partial<InboxItem> = {}): InboxItem {
  return { id, topic: 'alerts.disk', title: `Title ${id}`, body: '', url: null, priority: 3, createdAt: '2026-01-01T00:00:00.000Z', readAt: null, ...over }
}

describe('inbox store', () => {
  it('adds the same notification twice without duplicating it, and says what changed', async () => {
    const store = createInboxStore(memoryStorage())
    expect((await store.add([item('a')])).changed).toHaveLength(1)
    expect((await store.add([item('a')])).changed).toHaveLength(0)
    expect(await store.all()).toHaveLength(1)
  })

  it('says what is stored for every item, also those already stored (by another tab, say)', async () => {
    const store = createInboxStore(memoryStorage())
    await store.add([item('a', { readAt: '2026-01-02T00:00:00.000Z' })])
    const { stored, changed } = await store.add([item('a'), item('b')])
    expect(stored.map(i => [i.id, i.readAt])).toEqual([['a', '2026-01-02T00:00:00.000Z'], ['b', null]])
    expect(changed.map(i => i.id)).toEqual(['b'])
  })

  it('keeps read state when an unread copy arrives later (push after REST, say)', async () => {
    const store = createInboxStore(memoryStorage())
    await store.add([item('a', { readAt: '2026-01-02T00:00:00.000Z' })])
    await store.add([fromPush({ id: 'a', topic: 'alerts.disk', title: 'Title a', createdAt: '2026-01-01T00:00:00.000Z' })])
    expect((await store.get('a'))?.readAt).toBe('2026-01-02T00:00:00.000Z')
    expect(await store.unreadCount()).toBe(0)
  })

  it('a read copy from the server marks a local unread item read', async () => {
    const store = createInboxStore(memoryStorage())
    await store.add([item('a')])
    const { changed } = await store.add([item('a', { readAt: '2026-01-03T00:00:00.000Z' })])
    expect(changed.map(i => i.readAt)).toEqual(['2026-01-03T00:00:00.000Z'])
  })

  it('marks some or all read, reporting only the ids that changed', async () => {
    const store = createInboxStore(memoryStorage())
    await store.add([item('a'), item('b'), item('c')])
    expect(await store.markRead(['a', 'missing'])).toEqual(['a'])
    expect(await store.markRead(['a'])).toEqual([])
    expect((await store.markRead('all')).sort()).toEqual(['b', 'c'])
    expect(await store.unreadCount()).toBe(0)
  })

  it('marks all read up to a cut-off: what was published after it stays unread', async () => {
    const store = createInboxStore(memoryStorage())
    await store.add([
      item('old', { createdAt: '2026-01-01T00:00:00.000Z' }),
      item('seen', { createdAt: '2026-01-02T00:00:00.000Z' }),
      item('later', { createdAt: '2026-01-02T00:00:00.001Z' }),
    ])
    expect((await store.markRead('all', undefined, '2026-01-02T00:00:00.000Z')).sort()).toEqual(['old', 'seen'])
    expect((await store.get('later'))!.readAt).toBeNull()
    // Another time zone's spelling of the same instant.
    expect(await store.markRead('all', undefined, '2026-01-02T01:00:00.001+01:00')).toEqual(['later'])
  })

  it('searches title and body, case-insensitively, every word', async () => {
    const store = createInboxStore(memoryStorage())
    await store.add([
      item('a', { title: 'Disk almost full', body: 'sda1 at 97%' }),
      item('b', { title: 'Backup done', body: 'Disk image written' }),
      item('c', { title: 'Login', body: 'from a new device' }),
    ])
    expect((await store.list({ q: 'disk' })).map(i => i.id).sort()).toEqual(['a', 'b'])
    expect((await store.list({ q: 'DISK sda1' })).map(i => i.id)).toEqual(['a'])
    expect(await store.list({ q: 'nothing' })).toEqual([])
    // Beyond ASCII too: "İ" (Turkish dotted capital) is found by a plain "i", and the other way.
    await store.add([item('d', { title: 'Ünïcödé', body: 'İstanbul ΣΟΦΙΑ' })])
    expect((await store.list({ q: 'istanbul' })).map(i => i.id)).toEqual(['d'])
    expect((await store.list({ q: 'İSTANBUL ünïcödé σοφια' })).map(i => i.id)).toEqual(['d'])
    // A composed "é" typed finds an "e" with a combining accent, and the other way.
    await store.add([item('e', { title: 'Cafe\u0301 closed', body: 'Caf\u00e9 open' })])
    expect((await store.list({ q: 'caf\u00e9 closed' })).map(i => i.id)).toEqual(['e'])
    expect((await store.list({ q: 'cafe\u0301 OPEN' })).map(i => i.id)).toEqual(['e'])
  })

  it('filters by topic and unread, newest first', async () => {
    const items = [
      item('a', { topic: 'x', createdAt: '2026-01-01T00:00:00.000Z' }),
      item('b', { topic: 'y', createdAt: '2026-01-03T00:00:00.000Z' }),
      item('c', { topic: 'x', createdAt: '2026-01-02T00:00:00.000Z', readAt: '2026-01-04T00:00:00.000Z' }),
    ]
    expect(filterItems(items, {}).map(i => i.id)).toEqual(['b', 'c', 'a'])
    expect(filterItems(items, { topic: 'x' }).map(i => i.id)).toEqual(['c', 'a'])
    expect(filterItems(items, { topic: 'x', unread: true }).map(i => i.id)).toEqual(['a'])
  })

  it('prunes beyond the newest N and older than the age limit', async () => {
    const store = createInboxStore(memoryStorage())
    const now = new Date('2026-06-01T00:00:00.000Z')
    const day = (n: number) => new Date(now.getTime() - n * 86_400_000).toISOString()
    await store.add([item('old', { createdAt: day(100) }), ...[1, 2, 3, 4].map(n => item(`d${n}`, { createdAt: day(n) }))])
    expect(prunable(await store.all(), { maxItems: 3, maxAgeDays: 90 }, now).sort()).toEqual(['d4', 'old'])
    expect(await store.prune({ maxItems: 3, maxAgeDays: 90 }, now)).toBe(2)
    expect((await store.list()).map(i => i.id)).toEqual(['d1', 'd2', 'd3'])
  })

  it('turns message frames with a notification into items, and ignores plain messages', () => {
    const frame = { type: 'message' as const, topic: 't', offset: 1, id: 'n1', createdAt: '2026-01-01T00:00:00.000Z' }
    expect(fromFrame(frame)).toBeNull()
    expect(fromFrame({ ...frame, notification: { title: 'Hi' } })).toMatchObject({ id: 'n1', title: 'Hi', body: '', priority: 3, readAt: null })
  })
})

describe('inbox snapshot', () => {
  it('keeps the newest items and the counts of the whole inbox', () => {
    const items = Array.from({ length: 120 }, (_, i) => item(`n${String(i).padStart(3, '0')}`, {
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      readAt: i % 3 === 0 ? '2026-01-02T00:00:00.000Z' : null,
    })).sort(newestFirst)
    const snapshot = snapshotOf('u1', items)
    expect(snapshot.owner).toBe('u1')
    expect(snapshot.items.map(i => i.id)).toEqual(items.slice(0, 50).map(i => i.id))
    expect(snapshot.items[0]!.id).toBe('n119')
    expect(snapshot).toMatchObject({ total: 120, unread: 80 })
    expect(snapshotOf('u1', items.slice(0, 3))).toMatchObject({ total: 3, items: items.slice(0, 3) })
  })
})

describe('read queue', () => {
  it('keeps ids (and "all") until they are done, once each', async () => {
    const queue = createReadQueue(memoryStorage())
    await queue.add(['a', 'b'])
    await queue.add(['a'])
    await queue.add('all')
    expect(await queue.pending()).toEqual({ ids: ['a', 'b'], all: true, upTo: null })
    await queue.done(['a', 'b'])
    await queue.done('all')
    expect(await queue.pending()).toEqual({ ids: [], all: false, upTo: null })
  })

  it('keeps a "mark all read" with the later of its cut-offs, until that one is sent', async () => {
    const queue = createReadQueue(memoryStorage())
    await queue.add('all', '2026-01-02T00:00:00.000Z')
    await queue.add('all', '2026-01-01T00:00:00.000Z')
    expect(await queue.pending()).toEqual({ ids: [], all: true, upTo: '2026-01-02T00:00:00.000Z' })
    // Sent with that cut-off; meanwhile a later one was queued: it stays for the next flush.
    const sent = (await queue.pending()).upTo
    await queue.add('all', '2026-01-03T00:00:00.000Z')
    await queue.done('all', sent)
    expect(await queue.pending()).toMatchObject({ all: true, upTo: '2026-01-03T00:00:00.000Z' })
    await queue.done('all', '2026-01-03T00:00:00.000Z')
    expect(await queue.pending()).toMatchObject({ all: false })
    // Without a cut-off (or queued so by an older version): everything, whatever else is queued.
    await queue.add('all')
    await queue.add('all', '2026-01-04T00:00:00.000Z')
    expect(await queue.pending()).toMatchObject({ all: true, upTo: null })
  })
})

describe('reconnect backoff', () => {
  it('grows exponentially with jitter and stays under the cap', () => {
    expect(backoffDelay(0, { random: () => 0 })).toBe(250)
    expect(backoffDelay(0, { random: () => 1 })).toBe(500)
    expect(backoffDelay(3, { random: () => 1 })).toBe(4000)
    expect(backoffDelay(50, { random: () => 1 })).toBe(30_000)
    for (let i = 0; i < 20; i++) expect(backoffDelay(i)).toBeLessThanOrEqual(30_000)
  })
})
