import { describe, expect, it } from 'vitest'
import { grantCreateSchema, userCreateSchema, userUpdateSchema } from '#shared/schemas/accounts'

describe('account schemas', () => {
  it('defaults a new user to the user role', () => {
    expect(userCreateSchema.parse({ username: 'bob', password: 'longenough' }).role).toBe('user')
  })

  it('refuses short passwords and odd usernames', () => {
    expect(userCreateSchema.safeParse({ username: 'bob', password: 'short' }).success).toBe(false)
    expect(userCreateSchema.safeParse({ username: 'b o b', password: 'longenough' }).success).toBe(false)
    expect(userCreateSchema.safeParse({ username: 'bob', password: 'longenough', role: 'root' }).success).toBe(false)
  })

  it('wants at least one field in an update', () => {
    expect(userUpdateSchema.safeParse({}).success).toBe(false)
    expect(userUpdateSchema.safeParse({ role: 'admin' }).success).toBe(true)
  })

  it('wants exactly one grantee and at least one right in a grant', () => {
    expect(grantCreateSchema.safeParse({ topic: 'a.*' }).success).toBe(false)
    expect(grantCreateSchema.safeParse({ userId: 'u', groupId: 'g', topic: 'a.*' }).success).toBe(false)
    expect(grantCreateSchema.safeParse({ userId: 'u', topic: 'a.*', read: false, publish: false }).success).toBe(false)
    expect(grantCreateSchema.parse({ groupId: 'g', topic: 'a.*' })).toMatchObject({ read: true, publish: false })
    expect(grantCreateSchema.safeParse({ userId: 'u', topic: 'bad topic' }).success).toBe(false)
  })
})
