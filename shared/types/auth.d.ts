import type { Role } from '../schemas/accounts'

declare module '#auth-utils' {
  interface User {
    id: string
    username: string
    role: Role
  }
  interface UserSession {
    /** The personal token created at login, revoked at logout. */
    tokenId?: string
    loggedInAt?: number
  }
}

export {}
