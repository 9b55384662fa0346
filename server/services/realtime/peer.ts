import { randomUUID } from 'node:crypto'
import type { Peer } from 'crossws'
import { encodeTextFrame, type Connection, type Socket } from './hub'

/** What is used of the `ws` WebSocket under a crossws Node peer (`_socket`, `_sender`: see below). */
interface WsLike {
  readyState: number
  bufferedAmount: number
  ping(): void
  terminate(): void
  send(data: string, options: { binary: boolean }): void
  on(event: 'pong', listener: () => void): void
  _socket?: { write(chunk: Buffer): boolean } | null
  _sender?: { _state?: number, _firstFragment?: boolean } | null
  _extensions?: Record<string, unknown>
}

const OPEN = 1
const TEXT = { binary: false }

/**
 * Whether an encoded frame may be written straight to the TCP socket: the connection is open, no
 * extension (permessage-deflate) was negotiated (`plain`, fixed at the handshake), and ws's
 * sender has nothing of its own queued and is not in the middle of a fragmented message, so the
 * bytes land exactly where `ws.send` would have put them. Anything unexpected (another `ws`
 * version) takes the ordinary path.
 */
function canWriteRaw(ws: WsLike, plain: boolean): boolean {
  const sender = ws._sender
  return plain && ws.readyState === OPEN && !!ws._socket && !!sender && sender._state === 0 && sender._firstFragment === true
}

/**
 * Adapts a crossws peer (Node adapter: the `ws` library underneath) to the hub's Socket.
 * Heartbeats use protocol-level ping/pong, which browsers answer by themselves.
 * Frames are encoded here and written to the peer's TCP socket in one write (ws writes header and
 * payload apart); a SharedFrame (one live message for many peers) is encoded once for all of them.
 */
export function connectionFor<T extends object>(peer: Peer, kind: Connection['kind'], extra: T & { userId?: string, sourceId?: string }): Connection & T {
  // `peer.websocket` is a Proxy over the ws WebSocket (every property read goes through a trap);
  // the hot path reads the WebSocket itself, which crossws's Node peer keeps in `_internal.ws`.
  const ws = ((peer as unknown as { _internal?: { ws?: WsLike } })._internal?.ws ?? peer.websocket) as WsLike
  const plain = !ws._extensions || Object.keys(ws._extensions).length === 0
  const socket: Socket = {
    send: (frame) => {
      // Raw: the socket's own answer (false once more than its high-water mark is waiting).
      if (canWriteRaw(ws, plain)) return ws._socket!.write(typeof frame === 'string' ? encodeTextFrame(frame) : frame.wire)
      if (typeof frame === 'string') peer.send(frame)
      else if (ws.readyState === OPEN) ws.send(frame.text, TEXT)
      return false
    },
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
