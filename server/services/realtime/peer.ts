import { randomUUID } from 'node:crypto'
import type { Peer } from 'crossws'
import type { Connection, Socket } from './hub'

interface WsLike {
  bufferedAmount: number
  ping(): void
  terminate(): void
  on(event: 'pong', listener: () => void): void
}

/**
 * Adapts a crossws peer (Node adapter: the `ws` library underneath) to the hub's Socket.
 * Heartbeats use protocol-level ping/pong, which browsers answer by themselves.
 */
export function connectionFor<T extends object>(peer: Peer, kind: Connection['kind'], extra: T & { userId?: string, sourceId?: string }): Connection & T {
  const ws = peer.websocket as unknown as WsLike
  const socket: Socket = {
    send: frame => peer.send(frame),
    close: (code, reason) => peer.close(code, reason),
    terminate: () => peer.terminate(),
    ping: () => ws.ping(),
    bufferedAmount: () => ws.bufferedAmount ?? 0,
  }
  const conn = { id: randomUUID(), kind, socket, topics: new Map(), alive: true, closed: false, ...extra }
  ws.on('pong', () => {
    conn.alive = true
  })
  return conn
}
