import type { H3Event } from 'h3'
import { idParamSchema } from '#shared/schemas/accounts'
import type { SourceStatus } from '#shared/schemas/sources'
import { parseParams, notFound, conflict } from '../utils/validate'
import { announce } from './control'
import { findSource, updateSource } from './sources'
import { isMissingRow } from './accounts'

/** Tells every instance (producers' sockets) and every admin view (live lists) about the change. */
export async function announceSource(id: string, action: string, source: object | null) {
  await announce({ type: 'source.changed', id })
  await announce({ type: 'admin.event', event: { entity: 'source', action, id, source } })
}

/** Which statuses each lifecycle action accepts, and what it leads to. */
const TRANSITIONS: Record<string, { from: SourceStatus[], to: SourceStatus }> = {
  activate: { from: ['draft', 'inactive', 'active'], to: 'active' },
  deactivate: { from: ['draft', 'active', 'inactive'], to: 'inactive' },
  reactivate: { from: ['inactive', 'active'], to: 'active' },
}

/** POST /api/admin/sources/:id/<action>: one lifecycle step, announced to every instance. */
export async function changeSourceStatus(event: H3Event, action: keyof typeof TRANSITIONS) {
  const { id } = parseParams(event, idParamSchema)
  const source = await findSource(id)
  if (!source) notFound('Source')
  const { from, to } = TRANSITIONS[action]!
  if (!from.includes(source.status as SourceStatus)) conflict(`Cannot ${action} a ${source.status} source`)
  // Deleted by another request since it was read: not found, as it would be after.
  const updated = source.status === to
    ? source
    : await updateSource(id, { status: to }).catch((error: unknown) => isMissingRow(error) ? notFound('Source') : Promise.reject(error))
  await announceSource(id, action, updated)
  return updated
}
