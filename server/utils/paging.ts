// Lists served newest first, ordered by (createdAt, id), page with ?before=<createdAt>&beforeId=<id>
// of the last item seen: many rows share a millisecond (a burst of notifications, the deliveries
// of one fanout), so the date alone would skip some at a page boundary.

/** The `where` part for the rows after the cursor (the date alone, without `beforeId`). */
export function olderThan(before: Date | undefined, beforeId: string | undefined) {
  if (before && beforeId) return { OR: [{ createdAt: { lt: before } }, { createdAt: before, id: { lt: beforeId } }] }
  return { createdAt: before ? { lt: before } : undefined }
}
