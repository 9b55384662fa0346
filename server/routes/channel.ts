import { channelMessage, closeChannel, openChannel } from '../services/realtime/channel'
import { useHub } from '../services/realtime'

// /channel: users follow topics live. Auth: session cookie or ?token=<personal access token>.
export default defineWebSocketHandler({
  upgrade: request => guardUpgrade(async () => {
    const token = upgradeToken(request)
    let userId: string | undefined
    if (token) {
      userId = (await userFromToken(token))?.id
      if (!userId) rejectUpgrade(401, 'Invalid or revoked token')
    }
    else {
      const sessionUserId = await upgradeSessionUserId(request)
      const row = sessionUserId ? await useDb().user.findUnique({ where: { id: sessionUserId }, select: { id: true } }) : null
      if (!row) rejectUpgrade(401, 'Log in or pass ?token=<personal access token>')
      // The cookie is sent by the browser whatever page opens the socket: only this site may.
      const origin = request.headers.get('origin')
      if (origin && !originAllowed(origin, request.headers.get('host') ?? undefined)) rejectUpgrade(403, `Connections from ${origin} may not use this session`)
      userId = row.id
    }
    const max = mercuryConfig().maxConnectionsPerUser
    if (useHub().userConnections(userId).length >= max) rejectUpgrade(429, `At most ${max} connections per user`)
    request.context!.userId = userId
  }),
  async open(peer) {
    try {
      await openChannel(peer, peer.context.userId as string)
    }
    catch (error) {
      console.error('mercury: /channel open failed:', error)
      peer.close(1011, 'internal error')
    }
  },
  async message(peer, message) {
    try {
      await channelMessage(peer, message.text())
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
