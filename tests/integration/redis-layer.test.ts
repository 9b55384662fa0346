// The channel layers against their contract: the Redis layer on a real redis-server (several
// layer objects standing for several Mercury instances), and the memory layer where the cases
// apply to one process.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { ChannelLayer, ControlEvent, HistoryLimits, StreamEntry } from '../../server/services/realtime/layer'
import { MemoryChannelLayer } from '../../server/services/realtime/memory-layer'
import { RedisChannelLayer } from '../../server/services/realtime/redis-layer'
import { startRedis, type RunningRedis } from '../helpers/redis'

let redis: RunningRedis
const opened: ChannelLayer[] = []

beforeAll(async () => {
  redis = await startRedis()
})

afterEach(async () => {
  await Promise.all(opened.splice(0).map(layer => layer.close()))
})

afterAll(async () => {
  await redis?.stop()
})

const LIMITS: HistoryLimits = { maxLength: 1000, maxAgeMs: 60_000 }

let prefixes = 0
/** A key prefix of its own per test, so tests sharing the server do not see each other's topics. */
function newPrefix() {
  return `test${++prefixes}:`
}

async function redisLayer(limits: HistoryLimits = LIMITS, prefix = newPrefix()): Promise<RedisChannelLayer> {
  const layer = new RedisChannelLayer(redis.url, limits, { prefix })
  opened.push(layer)
  await layer.ready()
  return layer
}

function memoryLayer(limits: HistoryLimits = LIMITS): MemoryChannelLayer {
  const layer = new MemoryChannelLayer(limits, { ceiling: async () => 0, reserve: async () => {} })
  opened.push(layer)
  return layer
}

const head = (topic: string) => `{"type":"message","topic":${JSON.stringify(topic)},"offset":`
const tail = ',"data":{"n":1}}'

async function publishMany(layer: ChannelLayer, topic: string, count: number): Promise<StreamEntry[]> {
  const entries: StreamEntry[] = []
  for (let i = 0; i < count; i++) entries.push(await layer.publish(topic, head(topic), tail))
  return entries
}

/** Records what a layer delivers, per topic. */
function recorder(layer: ChannelLayer) {
  const byTopic = new Map<string, StreamEntry[]>()
  layer.onEntry((topic, entry) => {
    let list = byTopic.get(topic)
    if (!list) byTopic.set(topic, list = [])
    list.push(entry)
  })
  return (topic: string) => byTopic.get(topic) ?? []
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

async function until(check: () => boolean, timeoutMs = 5000, what = 'condition') {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

const offsetsOf = (entries: StreamEntry[]) => entries.map(entry => entry.offset)
// The memory layer's entries carry their timestamp too (`at`): compare the contract's fields.
const plain = (entries: StreamEntry[]) => entries.map(({ offset, frame }) => ({ offset, frame }))
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe.each([
  { kind: 'memory', make: async (limits?: HistoryLimits) => memoryLayer(limits) },
  { kind: 'redis', make: (limits?: HistoryLimits) => redisLayer(limits) },
])('$kind layer', ({ make }) => {
  it('numbers each topic 1, 2, 3… on its own, and builds the frame around the offset', async () => {
    const layer = await make()
    const a = [await layer.publish('a', head('a'), tail), await layer.publish('a', head('a'), tail)]
    const b = await layer.publish('b', head('b'), tail)
    a.push(await layer.publish('a', head('a'), tail))
    expect(offsetsOf(a)).toEqual([1, 2, 3])
    expect(b.offset).toBe(1)
    expect(a[2]!.frame).toBe(`${head('a')}3${tail}`)
    expect(JSON.parse(a[2]!.frame)).toEqual({ type: 'message', topic: 'a', offset: 3, data: { n: 1 } })
    expect(await layer.lastOffset('a')).toBe(3)
    expect(await layer.lastOffset('b')).toBe(1)
    expect(await layer.lastOffset('never')).toBe(0)
  })

  it('delivers its own publishes to itself while subscribed', async () => {
    const layer = await make()
    const received = recorder(layer)
    await layer.subscribe('t')
    await publishMany(layer, 't', 3)
    await until(() => received('t').length === 3)
    expect(plain(received('t'))).toEqual([1, 2, 3].map(offset => ({ offset, frame: `${head('t')}${offset}${tail}` })))
  })

  it('returns history after an offset, within a limit', async () => {
    const layer = await make()
    const published = await publishMany(layer, 't', 10)
    const all = await layer.history('t', 0, 100)
    expect(all).toEqual({ entries: plain(published), lastOffset: 10, recovered: true })
    const after4 = await layer.history('t', 4, 100)
    expect(offsetsOf(after4.entries)).toEqual(range(5, 10))
    expect(after4.recovered).toBe(true)
    const page = await layer.history('t', 4, 3)
    expect(offsetsOf(page.entries)).toEqual([5, 6, 7])
    expect(page).toMatchObject({ lastOffset: 10, recovered: true })
    expect(await layer.history('t', 10, 100)).toEqual({ entries: [], lastOffset: 10, recovered: true })
    // The client saw offsets this stream never had (the stream was reset).
    expect(await layer.history('t', 12, 100)).toEqual({ entries: [], lastOffset: 10, recovered: false })
    expect(await layer.history('empty', 0, 100)).toEqual({ entries: [], lastOffset: 0, recovered: true })
  })

  it('keeps only the newest maxLength messages', async () => {
    const layer = await make({ maxLength: 50, maxAgeMs: 60_000 })
    await publishMany(layer, 't', 200)
    const all = await layer.history('t', 0, 1000)
    expect(offsetsOf(all.entries)).toEqual(range(151, 200))
    expect(all).toMatchObject({ lastOffset: 200, recovered: false })
    const gap = await layer.history('t', 100, 10)
    expect(offsetsOf(gap.entries)).toEqual(range(151, 160))
    expect(gap.recovered).toBe(false)
    const inside = await layer.history('t', 160, 10)
    expect(offsetsOf(inside.entries)).toEqual(range(161, 170))
    expect(inside.recovered).toBe(true)
  })

  it('drops messages older than maxAgeMs', async () => {
    const layer = await make({ maxLength: 1000, maxAgeMs: 200 })
    await publishMany(layer, 't', 3)
    expect(offsetsOf((await layer.history('t', 0, 100)).entries)).toEqual([1, 2, 3])
    await sleep(300)
    expect(await layer.history('t', 0, 100)).toEqual({ entries: [], lastOffset: 3, recovered: false })
    expect(await layer.history('t', 3, 100)).toEqual({ entries: [], lastOffset: 3, recovered: true })
    await publishMany(layer, 't', 2)
    // The expired entries do not count against the limit.
    const fresh = await layer.history('t', 0, 1)
    expect(offsetsOf(fresh.entries)).toEqual([4])
    expect(fresh).toMatchObject({ lastOffset: 5, recovered: false })
    expect(offsetsOf((await layer.history('t', 3, 100)).entries)).toEqual([4, 5])
    expect((await layer.history('t', 3, 100)).recovered).toBe(true)
  })

  it('delivers its own broadcasts to itself', async () => {
    const layer = await make()
    const events: ControlEvent[] = []
    layer.onControl(event => events.push(event))
    await layer.broadcast({ type: 'topic.changed', topic: 't' })
    await until(() => events.length === 1)
    expect(events).toEqual([{ type: 'topic.changed', topic: 't' }])
    expect(layer.healthy()).toBe(true)
  })
})

describe('redis layer across instances', () => {
  it('fans entries out to the instances subscribed to the topic, in order', async () => {
    const prefix = newPrefix()
    const a = await redisLayer(LIMITS, prefix)
    const b = await redisLayer(LIMITS, prefix)
    const c = await redisLayer(LIMITS, prefix)
    const atB = recorder(b)
    const atC = recorder(c)
    await b.subscribe('t')
    await b.subscribe('t') // harmless
    await b.subscribe('marker')
    await c.subscribe('marker')

    const published = await publishMany(a, 't', 20)
    await until(() => atB('t').length === 20)
    expect(atB('t')).toEqual(published)
    // Redis delivers in publish order on one connection, so once the marker (published after the
    // entries of t) has arrived at C, any entry of t would have arrived too.
    await a.publish('marker', head('marker'), tail)
    await until(() => atC('marker').length === 1 && atB('marker').length === 1)
    expect(atC('t')).toEqual([])

    await b.unsubscribe('t')
    await publishMany(a, 't', 3)
    await a.publish('marker', head('marker'), tail)
    await until(() => atB('marker').length === 2)
    expect(atB('t')).toHaveLength(20)
    // Its history is still shared by every instance.
    expect(offsetsOf((await c.history('t', 20, 100)).entries)).toEqual([21, 22, 23])
  })

  it('broadcasts control events to every instance, the sender included', async () => {
    const prefix = newPrefix()
    const a = await redisLayer(LIMITS, prefix)
    const b = await redisLayer(LIMITS, prefix)
    const other = await redisLayer(LIMITS) // another deployment on the same Redis
    const atA: ControlEvent[] = []
    const atB: ControlEvent[] = []
    const atOther: ControlEvent[] = []
    a.onControl(event => atA.push(event))
    b.onControl(event => atB.push(event))
    other.onControl(event => atOther.push(event))
    await a.broadcast({ type: 'user.disabled', userId: 'u1' })
    await b.broadcast({ type: 'topic.deleted', topic: 't' })
    await until(() => atA.length === 2 && atB.length === 2)
    const expected = [{ type: 'user.disabled', userId: 'u1' }, { type: 'topic.deleted', topic: 't' }]
    expect(atA).toEqual(expected)
    expect(atB).toEqual(expected)
    expect(atOther).toEqual([])
  })

  it('delivers 1,000 concurrent publishes to another instance, each once and in order', async () => {
    const prefix = newPrefix()
    const a = await redisLayer(LIMITS, prefix)
    const b = await redisLayer(LIMITS, prefix)
    const atB = recorder(b)
    await b.subscribe('t')
    const published = await Promise.all(Array.from({ length: 1000 }, () => a.publish('t', head('t'), tail)))
    expect(offsetsOf(published).sort((x, y) => x - y)).toEqual(range(1, 1000))
    await until(() => atB('t').length >= 1000, 10_000, '1,000 entries')
    await sleep(50)
    expect(offsetsOf(atB('t'))).toEqual(range(1, 1000))
    expect(atB('t').every(entry => entry.frame === `${head('t')}${entry.offset}${tail}`)).toBe(true)
  })

  // Last: it empties the server (no persistence).
  it('fails fast while Redis is down and resumes delivery once it is back', async () => {
    const prefix = newPrefix()
    const a = await redisLayer(LIMITS, prefix)
    const b = await redisLayer(LIMITS, prefix)
    const atB = recorder(b)
    const controlAtB: ControlEvent[] = []
    b.onControl(event => controlAtB.push(event))
    await b.subscribe('t')
    await a.publish('t', head('t'), tail)
    await until(() => atB('t').length === 1)

    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    await redis.stop()
    await until(() => !a.healthy(), 5000, 'the outage to be noticed')
    const started = Date.now()
    await expect(a.publish('t', head('t'), tail)).rejects.toThrow()
    await expect(a.history('t', 0, 10)).rejects.toThrow()
    const controlAtA: ControlEvent[] = []
    a.onControl(event => controlAtA.push(event))
    await expect(a.broadcast({ type: 'ping' })).rejects.toThrow()
    expect(Date.now() - started).toBeLessThan(5000)
    // A broadcast that failed is applied by its own instance at once (and sent when Redis is back).
    expect(controlAtA).toEqual([{ type: 'ping' }])

    await redis.restart()
    // B resubscribes on its own once it has reconnected; until then publishes fail or go unheard.
    const deadline = Date.now() + 10_000
    while (atB('t').length === 1) {
      if (Date.now() > deadline) throw new Error('delivery did not resume')
      await a.publish('t', head('t'), tail).catch(() => {})
      await sleep(100)
    }
    expect(a.healthy()).toBe(true)
    // Without persistence the stream starts again at 1.
    expect(atB('t')[1]!.offset).toBe(1)
    await a.broadcast({ type: 'after-restart' })
    await until(() => controlAtB.some(event => event.type === 'after-restart'))
    // The one that failed reached B too, once, if B had subscribed again when it was sent (B also
    // checks its connections against the database on reconnecting, which makes up for it if not).
    expect(controlAtB.filter(event => event.type === 'ping').length).toBeLessThanOrEqual(1)
    expect(controlAtB.at(-1)).toEqual({ type: 'after-restart' })
    // One line when each of the four connections went down, one when it came back.
    await until(() => warn.mock.calls.length === 8, 5000, 'the reconnections to be logged')
    const lines = warn.mock.calls.map(call => String(call[0]))
    expect(lines.filter(line => line.endsWith('reconnecting'))).toHaveLength(4)
    expect(lines.filter(line => line.endsWith('is back'))).toHaveLength(4)
    warn.mockRestore()
  })
})

describe('memory layer memory', () => {
  it('holds nothing for topics that were only asked about, and forgets topics left with nothing to keep', async () => {
    const ceilings = new Map<string, number>()
    const layer = new MemoryChannelLayer({ maxLength: 100, maxAgeMs: 200 }, {
      ceiling: async topic => ceilings.get(topic) ?? 0,
      reserve: async (topic, ceiling) => void ceilings.set(topic, ceiling),
    }, 10)
    opened.push(layer)
    // A reader asking about any name its pattern allows: nothing is kept for names never published to.
    for (let i = 0; i < 100; i++) {
      expect(await layer.history(`ghost.${i}`, 0, 10)).toMatchObject({ entries: [], lastOffset: 0 })
      expect(await layer.lastOffset(`ghost.${i}`)).toBe(0)
    }
    expect(layer.heldTopics).toBe(0)

    await publishMany(layer, 'quiet', 3)
    await publishMany(layer, 'followed', 3)
    await layer.subscribe('followed')
    expect(layer.heldTopics).toBe(2)
    await new Promise(resolve => setTimeout(resolve, 250))
    // Expired entries go without a read, and a topic with nothing left and no subscriber is forgotten.
    layer.sweep()
    expect(layer.heldTopics).toBe(1)
    expect(await layer.history('followed', 0, 10)).toMatchObject({ entries: [], lastOffset: 3 })
    // A forgotten topic takes its offsets up again from its reserved ceiling: they keep increasing.
    expect(await layer.lastOffset('quiet')).toBe(10)
    expect((await layer.publish('quiet', head('quiet'), tail)).offset).toBe(11)
  })
})

describe('memory layer bound on all topics', () => {
  it('keeps all topics\' history under maxBytes together, dropping the oldest messages of any topic first', async () => {
    const layer = memoryLayer({ maxLength: 1000, maxAgeMs: 60_000, maxBytes: 3000 })
    const held = async (topic: string) => (await layer.history(topic, 0, 1000)).entries
    const chars = async (topics: string[]) => (await Promise.all(topics.map(held))).flat().reduce((sum, entry) => sum + entry.frame.length, 0)
    for (let i = 0; i < 20; i++) {
      await layer.publish('old.a', head('old.a'), tail)
      await layer.publish('old.b', head('old.b'), tail)
    }
    const before = await chars(['old.a', 'old.b'])
    expect(before).toBeLessThan(3000)
    expect(layer.heldChars).toBe(before)
    const fresh = await publishMany(layer, 'new', 20)
    // Past the bound, the history went down to 90 % of it, every message of 'new' kept: the older
    // topics gave up their oldest, both of them.
    expect(layer.heldChars).toBeLessThanOrEqual(3000)
    expect(layer.heldChars).toBe(await chars(['old.a', 'old.b', 'new']))
    expect((await held('new')).map(entry => entry.offset)).toEqual(fresh.map(entry => entry.offset))
    for (const topic of ['old.a', 'old.b']) {
      const { entries, lastOffset, recovered } = await layer.history(topic, 0, 1000)
      expect(lastOffset).toBe(20)
      expect(entries.at(-1)!.offset).toBe(20)
      expect(entries[0]!.offset).toBeGreaterThan(1)
      // A client resuming from before what is left is told so.
      expect(recovered).toBe(false)
      // What is left is still consecutive.
      expect(entries.map(entry => entry.offset)).toEqual(entries.map((_, i) => entries[0]!.offset + i))
    }
    // In the order they were published: old.a and old.b alternated, and lost as many.
    const [a, b] = await Promise.all(['old.a', 'old.b'].map(held))
    expect(a![0]!.offset - b![0]!.offset).toBeGreaterThanOrEqual(0)
    expect(a![0]!.offset - b![0]!.offset).toBeLessThanOrEqual(1)
    // It stays under the bound as publishing goes on, the newest kept.
    for (let i = 0; i < 200; i++) await layer.publish(`t.${i % 7}`, head(`t.${i % 7}`), tail)
    expect(layer.heldChars).toBeLessThanOrEqual(3000)
    expect((await held('t.6')).at(-1)!.offset).toBe(28)
  })

  it('does not bound the history without maxBytes', async () => {
    const layer = memoryLayer({ maxLength: 1000, maxAgeMs: 60_000 })
    await publishMany(layer, 'a', 200)
    expect((await layer.history('a', 0, 1000)).entries).toHaveLength(200)
  })
})
