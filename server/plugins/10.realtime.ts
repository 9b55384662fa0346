import { frameReadLimit, mercuryConfig } from '../utils/config'
import { closeConnections, closeRealtime, useChannelLayer, useHub } from '../services/realtime'
import { flushCounters } from '../services/sources'
import { handleControl, reconcileConnections } from '../services/control'
import { warnAtMostEveryMinute } from '../utils/warn'

export default defineNitroPlugin((nitro) => {
  const config = mercuryConfig()
  // ws reads a whole frame into memory before Mercury sees it: up to 100 MiB by default. Frames up
  // to four times the largest allowed one (at least 1 MiB) are read and answered with an error
  // frame; a larger one closes the connection at once with 1009 (message too big). The node
  // adapter is created from this object once the server listens, after the plugins have run.
  // Mercury speaks no subprotocol: ws would select the first one a client offers ("mqtt"), as if
  // it spoke it. None is selected, and a client that insists (browsers, ws) fails the handshake.
  const websocket = nitro.h3App.websocket as { serverOptions?: Record<string, unknown> }
  websocket.serverOptions = { ...websocket.serverOptions, maxPayload: frameReadLimit(config), handleProtocols: () => false }
  const hub = useHub()
  // One after the other, in the order they came: an admin event that follows a demotion reaches
  // only those who are still admins once the demotion is applied.
  let controls = Promise.resolve()
  useChannelLayer().onControl((event) => {
    controls = controls.then(() => handleControl(event)).catch((error: unknown) => {
      console.error(`mercury: control event ${event.type} failed: ${(error as Error).message}`)
    })
  })
  // The control channel was away (Redis reconnected): what it carried meanwhile is made good.
  useChannelLayer().onResync(() => {
    reconcileConnections().catch((error: unknown) => {
      console.error('mercury: checking open connections after a reconnection failed:', error)
    })
  })
  // Nitro's graceful shutdown destroys the HTTP server's idle sockets — upgraded WebSockets
  // included — before it runs the 'close' hooks, so clients would see the connection drop (1006)
  // instead of 1001. The WebSockets are closed first, on the signals Nitro shuts down on: this
  // listener is added before Nitro's, which the server adds once it listens. No listener when
  // Nitro's shutdown is off: one would keep the signal from ending the process.
  if (!process.env.NITRO_SHUTDOWN_DISABLED) {
    for (const signal of (process.env.NITRO_SHUTDOWN_SIGNALS || 'SIGTERM SIGINT').split(' ').map(s => s.trim()).filter(Boolean)) {
      process.once(signal as NodeJS.Signals, closeConnections)
    }
  }
  const heartbeat = setInterval(() => hub.heartbeat(), config.heartbeatSeconds * 1000)
  heartbeat.unref()
  const counters = setInterval(() => {
    flushCounters().catch((error: unknown) => warnAtMostEveryMinute('could not write counters (kept for the next write)', (error as Error).message))
  }, 2000)
  counters.unref()
  nitro.hooks.hook('close', async () => {
    clearInterval(heartbeat)
    clearInterval(counters)
    await flushCounters().catch(() => {})
    await closeRealtime()
  })
})
