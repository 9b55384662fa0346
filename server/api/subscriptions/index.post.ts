import { subscriptionSchema } from '#shared/schemas/messages'
import { lockUser, userGone } from '../../services/accounts'
import { announce } from '../../services/control'
import { canRead, effectivePermissions } from '../../services/permissions'

// Subscribing stores the topic for the user (their inbox gets its notifications) and makes every
// open /channel connection of theirs follow it.
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { topic, push } = await parseBody(event, subscriptionSchema)
  const permissions = await effectivePermissions(user.id)
  if (!canRead(permissions, topic)) {
    // No grants left because the user was deleted meanwhile: refused as their token now is.
    if (!await useDb().user.count({ where: { id: user.id } })) userGone()
    throw createError({ statusCode: 403, statusMessage: 'Forbidden', message: `No read access to "${topic}"` })
  }
  // Every open /channel follows every stored subscription: they are bounded like its topics.
  const max = mercuryConfig().maxSubscriptionsPerConnection
  const select = { topic: true, push: true, createdAt: true }
  const { subscription, created } = await useDb().$transaction(async (tx) => {
    // One request of the user's at a time counts and adds: the same subscription sent at once from
    // two clients is one (the second updates it), several new ones cannot pass the limit
    // together, and a user deleted meanwhile gets none.
    if (!await lockUser(tx, user.id)) userGone()
    const key = { userId_topic: { userId: user.id, topic } }
    const existing = await tx.subscription.findUnique({ where: key, select })
    if (existing) {
      return { subscription: push === undefined ? existing : await tx.subscription.update({ where: key, data: { push }, select }), created: false }
    }
    if (await tx.subscription.count({ where: { userId: user.id } }) >= max) {
      // Those the user can no longer read count too (they are stored and would resume), and are
      // not among the Topics page's readable topics: said, or the user cannot see why.
      const stored = await tx.subscription.findMany({ where: { userId: user.id }, select: { topic: true } })
      const unreadable = stored.filter(s => !canRead(permissions, s.topic)).length
      const lost = unreadable === 1 ? '1 of them is a topic you can no longer read: remove it' : `${unreadable} of them are topics you can no longer read: remove them`
      conflict(`At most ${max} subscriptions per user (MERCURY_MAX_SUBSCRIPTIONS): unsubscribe from one first${unreadable ? ` (${lost} on the Topics page)` : ''}`, { unreadable })
    }
    return { subscription: await tx.subscription.create({ data: { userId: user.id, topic, push: push ?? true }, select }), created: true }
  })
  // Open sockets join a new one (and say so); a change of push alone is nothing to them.
  if (created) await announce({ type: 'subscription.changed', userId: user.id, topic, subscribed: true })
  setResponseStatus(event, 201)
  return subscription
})
