import { channelMessage, closeChannel, openChannel } from '../services/realtime/channel'
import { frameText } from '../services/realtime/frames'
import { useChannelLayer, useHub } from '../services/realtime'

// /channel: users follow topics live. Auth: session cookie or ?token=<personal access token>.
export default defineWebSocketHandler({
  upgrade: request => guardUpgrade(async () => {
    const token = upgradeToken(request)
    let user: { id: string, tokenId?: string } | null
    if (token) {
      user = await userFromToken(token)
      if (!user) rejectUpgrade(401, 'Invalid or revoked token')
    }
    else {
      user = await upgradeSessionUser(request)
      if (!user) rejectUpgrade(401, 'Log in or pass ?token=<personal access token>')
      // The cookie is sent by the browser whatever page opens the socket: only this site may.
      const origin = request.headers.get('origin')
      if (origin && !upgradeOriginAllowed(origin, request)) rejectUpgrade(403, `Connections from ${origin} may not use this session`)
    }
    const userId = user.id
    // Without the channel layer (Redis down) the connection could not follow a topic.
    if (!useChannelLayer().healthy()) rejectUpgrade(503, 'The channel layer is unavailable; retry shortly')
    const max = mercuryConfig().maxConnectionsPerUser
    if (useHub().userConnections(userId).length >= max) rejectUpgrade(429, `At most ${max} connections per user`)
    request.context!.userId = userId
    // The connection ends with the token (or the session's login token): see `tokens.revoked`.
    request.context!.tokenId = user.tokenId
  }),
  async open(peer) {
    try {
      await openChannel(peer, peer.context.userId as string, peer.context.tokenId as string | undefined)
    }
    catch (error) {
      // The channel layer went away while the connection was joining its topics: try again later.
      if (!useChannelLayer().healthy()) {
        console.warn('mercury: /channel open failed, the channel layer is unavailable:', (error as Error).message)
        return peer.close(1013, 'channel layer unavailable; retry shortly')
      }
      console.error('mercury: /channel open failed:', error)
      peer.close(1011, 'internal error')
    }
  },
  async message(peer, message) {
    try {
      await channelMessage(peer, frameText(message))
    }
    catch (error) {
      console.error('mercury: /channel frame failed:', error)
    }
  },
  close(peer) {
    closeChannel(peer)
  },
  error(peer) {
    closeChannel(peer)
  },
})
