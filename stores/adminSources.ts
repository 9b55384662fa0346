import { defineStore } from 'pinia'
import type { SourceStatus } from '#shared/schemas/sources'

export interface AdminSource {
  id: string
  name: string
  description: string
  status: SourceStatus
  topics: string
  messageCount: number
  notificationCount: number
  lastSeenAt: string | null
  createdAt: string
  updatedAt: string
}

export type SourceAction = 'activate' | 'deactivate' | 'reactivate'

export const useAdminSourcesStore = defineStore('adminSources', () => {
  const sources = ref<AdminSource[]>([])
  const loaded = ref(false)
  const error = ref('')

  async function load() {
    try {
      sources.value = await adminFetch<AdminSource[]>('/api/admin/sources')
      loaded.value = true
      error.value = ''
    }
    catch (e) {
      error.value = errorMessage(e)
    }
  }

  function upsert(source: AdminSource) {
    const index = sources.value.findIndex(s => s.id === source.id)
    if (index === -1) sources.value.push(source)
    else sources.value[index] = source
  }

  /** An admin event from /channel: another tab (or this one) changed a source. */
  function apply(frame: { action?: string, id?: string, source?: AdminSource | null }) {
    if (frame.action === 'deleted') sources.value = sources.value.filter(s => s.id !== frame.id)
    else if (frame.source) upsert(frame.source)
  }

  async function create(input: object) {
    const created = await adminFetch<{ source: AdminSource, token: string }>('/api/admin/sources', { method: 'POST', body: input })
    upsert(created.source)
    return created
  }

  async function update(id: string, input: object) {
    upsert(await adminFetch<AdminSource>(`/api/admin/sources/${id}`, { method: 'PATCH', body: input }))
  }

  async function setStatus(id: string, action: SourceAction) {
    upsert(await adminFetch<AdminSource>(`/api/admin/sources/${id}/${action}`, { method: 'POST' }))
  }

  async function rotate(id: string) {
    const rotated = await adminFetch<{ source: AdminSource, token: string }>(`/api/admin/sources/${id}/rotate-token`, { method: 'POST' })
    upsert(rotated.source)
    return rotated
  }

  async function remove(id: string) {
    await adminFetch(`/api/admin/sources/${id}`, { method: 'DELETE' })
    sources.value = sources.value.filter(s => s.id !== id)
  }

  const byId = computed(() => new Map(sources.value.map(s => [s.id, s])))

  return { sources, loaded, error, byId, load, apply, create, update, setStatus, rotate, remove }
})
