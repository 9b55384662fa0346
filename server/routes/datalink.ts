import { closeDatalink, datalinkMessage, openDatalink } from '../services/realtime/datalink'
import { frameText } from '../services/realtime/frames'
import { sourceByToken } from '../services/sources'
import { useHub } from '../services/realtime'

// /datalink: producers publish. Auth: the source token (Authorization: Bearer or ?token=).
export default defineWebSocketHandler({
  upgrade: request => guardUpgrade(async () => {
    const token = upgradeToken(request)
    if (!token) rejectUpgrade(401, 'Send the source token (Authorization: Bearer or ?token=)')
    const source = await sourceByToken(token)
    if (!source) rejectUpgrade(401, 'Invalid or revoked source token')
    if (source.status !== 'active') rejectUpgrade(403, `Source "${source.name}" is ${source.status}`)
    const max = mercuryConfig().maxConnectionsPerSource
    if (useHub().sourceConnections(source.id).length >= max) rejectUpgrade(429, `At most ${max} connections per source`)
    request.context!.sourceId = source.id
    request.context!.tokenHash = source.tokenHash
  }),
  open(peer) {
    openDatalink(peer, peer.context.sourceId as string, peer.context.tokenHash as string)
  },
  async message(peer, message) {
    try {
      await datalinkMessage(peer, frameText(message))
    }
    catch (error) {
      console.error('mercury: /datalink frame failed:', error)
    }
  },
  close(peer) {
    closeDatalink(peer)
  },
  error(peer) {
    closeDatalink(peer)
  },
})
