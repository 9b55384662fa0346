import { describe, expect, it } from 'vitest'
import { Hub, type Connection } from '../../server/services/realtime/hub'
import { MemoryChannelLayer } from '../../server/services/realtime/memory-layer'

const offsets = { ceiling: async () => 0, reserve: async () => {} }

function connection(id: string, sent: string[]): Connection {
  const socket = {
    send: (frame: string | { text: string }) => {
      sent.push(typeof frame === 'string' ? frame : frame.text)
      return true
    },
    close: () => {},
    terminate: () => {},
    ping: () => {},
    bufferedAmount: () => 0,
  }
  return { id, kind: 'channel', userId: 'u1', socket, topics: new Map(), alive: true, closed: false }
}

describe('Hub.subscribe', () => {
  it('does not follow a topic for a connection that closed before its subscribe was handled', async () => {
    const layer = new MemoryChannelLayer({ maxLength: 100, maxAgeMs: 60_000 }, offsets)
    const hub = new Hub(layer, { maxBufferedBytes: 1 << 20, replayPage: 100 })
    const sent: string[] = []
    const conn = connection('c1', sent)
    hub.add(conn)
    // The socket closes while the subscribe frame waits for the user's permissions.
    hub.remove(conn)
    await hub.subscribe(conn, 'race.t1', undefined, 1)
    await layer.publish('race.t1', '{"offset":', '}')
    expect(hub.stats()).toMatchObject({ connections: 0, topics: 0 })
    expect(conn.topics.size).toBe(0)
    expect(sent).toEqual([])
    await layer.close()
  })
})
