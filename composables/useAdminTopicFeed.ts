// The live messages of one topic for the dashboard: the latest ones from history, then each new
// one as it arrives over the admin /channel socket (admins may read every topic).

export interface TopicMessage {
  offset: number
  id: string
  event: string
  data: unknown
  createdAt: string
}

const KEEP = 300
const BACKFILL = 60

export function useAdminTopicFeed(topic: string) {
  const channel = useAdminChannel()
  const messages = shallowRef<TopicMessage[]>([])
  let backfilled = false

  function merge(incoming: TopicMessage[]) {
    const byOffset = new Map(messages.value.map(m => [m.offset, m]))
    for (const m of incoming) byOffset.set(m.offset, m)
    messages.value = [...byOffset.values()].sort((a, b) => a.offset - b.offset).slice(-KEEP)
  }

  async function backfill(offset: number) {
    if (backfilled || offset <= 0) return
    backfilled = true
    try {
      const history = await adminFetch<{ messages: TopicMessage[] }>(`/api/topics/${encodeURIComponent(topic)}/messages`, {
        query: { since: Math.max(0, offset - BACKFILL), limit: BACKFILL },
      })
      merge(history.messages)
    }
    catch { /* the live part still works */ }
  }

  let off: (() => void) | undefined
  onMounted(() => {
    off = channel.on((frame) => {
      if (frame.topic !== topic) return
      if (frame.type === 'message') merge([frame as unknown as TopicMessage])
      else if (frame.type === 'subscribed') backfill(frame.offset)
    })
    channel.watch(topic)
  })
  onBeforeUnmount(() => {
    off?.()
    channel.unwatch(topic)
  })

  return { messages }
}

/** The numbers in a message's data, flattened one level deep: {temp: 21, wind: {speed: 3}} → temp, wind.speed. */
export function numericFields(data: unknown): Record<string, number> {
  const out: Record<string, number> = {}
  if (typeof data === 'number' && Number.isFinite(data)) out.value = data
  if (!data || typeof data !== 'object' || Array.isArray(data)) return out
  for (const [key, value] of Object.entries(data)) {
    if (typeof value === 'number' && Number.isFinite(value)) out[key] = value
    else if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value)) {
        if (typeof v === 'number' && Number.isFinite(v)) out[`${key}.${inner}`] = v
      }
    }
  }
  return out
}
