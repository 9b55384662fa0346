import { defineStore } from 'pinia'
import type { Role } from '#shared/schemas/accounts'

export interface AdminUser { id: string, username: string, role: Role, createdAt: string, groups: { id: string, name: string }[] }
export interface AdminGroup { id: string, name: string, description: string, members: { id: string, username: string }[] }
export interface AdminGrant {
  id: string
  userId: string | null
  groupId: string | null
  topic: string
  read: boolean
  publish: boolean
  user: { id: string, username: string } | null
  group: { id: string, name: string } | null
}
export interface Permissions { admin: boolean, read: string[], publish: string[] }

// Users, groups and grants change together (a membership changes a user's groups and permissions),
// so any admin event about one of them reloads all three.
export const useAdminAccountsStore = defineStore('adminAccounts', () => {
  const users = ref<AdminUser[]>([])
  const groups = ref<AdminGroup[]>([])
  const grants = ref<AdminGrant[]>([])
  const loaded = ref(false)
  const error = ref('')
  /** Bumped on each reload, so views showing derived data (permissions) refresh too. */
  const version = ref(0)

  async function load() {
    try {
      const [u, g, gr] = await Promise.all([
        adminFetch<AdminUser[]>('/api/admin/users'),
        adminFetch<AdminGroup[]>('/api/admin/groups'),
        adminFetch<AdminGrant[]>('/api/admin/grants'),
      ])
      users.value = u
      groups.value = g
      grants.value = gr
      loaded.value = true
      error.value = ''
      version.value++
    }
    catch (e) {
      error.value = errorMessage(e)
    }
  }

  let pending: ReturnType<typeof setTimeout> | undefined
  /** Coalesces bursts of events (a form that adds a group and three members) into one reload. */
  function reloadSoon() {
    clearTimeout(pending)
    pending = setTimeout(load, 100)
  }

  async function run<T>(request: Promise<T>): Promise<T> {
    const result = await request
    await load()
    return result
  }

  return {
    users, groups, grants, loaded, error, version, load, reloadSoon,
    createUser: (body: object) => run(adminFetch<AdminUser>('/api/admin/users', { method: 'POST', body })),
    updateUser: (id: string, body: object) => run(adminFetch(`/api/admin/users/${id}`, { method: 'PATCH', body })),
    deleteUser: (id: string) => run(adminFetch(`/api/admin/users/${id}`, { method: 'DELETE' })),
    createGroup: (body: object) => run(adminFetch<AdminGroup>('/api/admin/groups', { method: 'POST', body })),
    updateGroup: (id: string, body: object) => run(adminFetch(`/api/admin/groups/${id}`, { method: 'PATCH', body })),
    deleteGroup: (id: string) => run(adminFetch(`/api/admin/groups/${id}`, { method: 'DELETE' })),
    addMember: (groupId: string, userId: string) => run(adminFetch(`/api/admin/groups/${groupId}/members`, { method: 'POST', body: { userId } })),
    removeMember: (groupId: string, userId: string) => run(adminFetch(`/api/admin/groups/${groupId}/members/${userId}`, { method: 'DELETE' })),
    createGrant: (body: object) => run(adminFetch<AdminGrant>('/api/admin/grants', { method: 'POST', body })),
    deleteGrant: (id: string) => run(adminFetch(`/api/admin/grants/${id}`, { method: 'DELETE' })),
  }
})
