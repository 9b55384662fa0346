// What the worker changes in the inbox: told to the open pages, and kept in the snapshot they
// show first when they open, with the app icon's unread count.
import { INBOX_CHANNEL, SNAPSHOT_KEY, useInboxDb, type InboxBroadcast } from '#shared/inbox/browser'
import { newestFirst, snapshotOf } from '#shared/inbox/logic'
import { sw } from './scope'

export async function announce(owner: string, message: InboxBroadcast | null): Promise<void> {
  const { inbox, meta } = useInboxDb()
  if (message) {
    const channel = new BroadcastChannel(INBOX_CHANNEL)
    channel.postMessage(message)
    channel.close()
  }
  const snapshot = snapshotOf(owner, (await inbox.all()).sort(newestFirst))
  if (message) await meta.setItem(SNAPSHOT_KEY, snapshot)
  await sw.navigator.setAppBadge?.(snapshot.unread)
}
