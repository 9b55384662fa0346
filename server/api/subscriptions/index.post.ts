import { subscriptionSchema } from '#shared/schemas/messages'
import { announce } from '../../services/control'
import { canRead, effectivePermissions } from '../../services/permissions'

// Subscribing stores the topic for the user (their inbox gets its notifications) and makes every
// open /channel connection of theirs follow it.
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { topic, push } = await parseBody(event, subscriptionSchema)
  if (!canRead(await effectivePermissions(user.id), topic)) {
    throw createError({ statusCode: 403, statusMessage: 'Forbidden', message: `No read access to "${topic}"` })
  }
  // Every open /channel follows every stored subscription: they are bounded like its topics.
  const max = mercuryConfig().maxSubscriptionsPerConnection
  const db = useDb()
  const existing = await db.subscription.findUnique({ where: { userId_topic: { userId: user.id, topic } }, select: { topic: true } })
  if (!existing && await db.subscription.count({ where: { userId: user.id } }) >= max) {
    conflict(`At most ${max} subscriptions per user (MERCURY_MAX_SUBSCRIPTIONS): unsubscribe from one first`)
  }
  const subscription = await db.subscription.upsert({
    where: { userId_topic: { userId: user.id, topic } },
    create: { userId: user.id, topic, push: push ?? true },
    update: push === undefined ? {} : { push },
    select: { topic: true, push: true, createdAt: true },
  })
  await announce({ type: 'subscription.changed', userId: user.id, topic, subscribed: true })
  setResponseStatus(event, 201)
  return subscription
})
