import WebSocket from 'ws'

export type Frame = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** A WebSocket test client that records every frame and waits for the ones a test expects. */
export class TestSocket {
  readonly frames: Frame[] = []
  readonly closed: Promise<{ code: number, reason: string }>
  private waiters: { predicate: (f: Frame) => boolean, resolve: (f: Frame) => void }[] = []
  private cursor = 0

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame
      this.frames.push(frame)
      this.waiters = this.waiters.filter((w) => {
        if (!w.predicate(frame)) return true
        w.resolve(frame)
        return false
      })
    })
    this.closed = new Promise(resolve => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  }

  /** Opens a socket; rejects with the HTTP status and body when the upgrade is refused. */
  static open(url: string, options: { token?: string, headers?: Record<string, string> } = {}): Promise<TestSocket> {
    const target = new URL(url.replace(/^http/, 'ws'))
    if (options.token) target.searchParams.set('token', options.token)
    const ws = new WebSocket(target, { headers: options.headers })
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new TestSocket(ws)))
      ws.once('unexpected-response', (_req, res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => body += chunk)
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body, headers: res.headers })))
        res.on('error', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body, headers: res.headers })))
      })
      ws.once('error', reject)
    })
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** The next frame (after the ones already taken by next()) that matches. */
  next(predicate: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    for (; this.cursor < this.frames.length; this.cursor++) {
      const frame = this.frames[this.cursor]!
      if (predicate(frame)) {
        this.cursor++
        return Promise.resolve(frame)
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs)
      this.waiters.push({
        predicate,
        resolve: (f) => {
          clearTimeout(timer)
          this.cursor = this.frames.length
          resolve(f)
        },
      })
    })
  }

  /** Sends a frame and waits for the answer carrying the same ref. */
  async request(frame: Frame, timeoutMs = 5000): Promise<Frame> {
    const ref = frame.ref ?? Math.random().toString(36).slice(2)
    this.send({ ...frame, ref })
    return this.next(f => f.ref === ref, timeoutMs)
  }

  /** Waits until `count` frames matching the predicate arrived in total. */
  async collect(predicate: (f: Frame) => boolean, count: number, timeoutMs = 10_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const matching = this.frames.filter(predicate)
      if (matching.length >= count) return matching
      if (Date.now() > deadline) throw new Error(`only ${matching.length} of ${count} frames in ${timeoutMs} ms`)
      await new Promise(r => setTimeout(r, 20))
    }
  }

  close(): Promise<{ code: number, reason: string }> {
    this.ws.close()
    return this.closed
  }
}
