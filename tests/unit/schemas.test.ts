import { describe, expect, it } from 'vitest'
import { grantCreateSchema, userCreateSchema, userUpdateSchema } from '#shared/schemas/accounts'
import { z } from 'zod'
import { notificationSchema } from '#shared/schemas/messages'
import { dateTimeSchema } from '#shared/schemas/dates'
import { sourceTopicsSchema } from '#shared/schemas/sources'

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

describe('query dates', () => {
  it('takes dates the database can hold, and refuses the others as a bad query', async () => {
    const { inboxQuerySchema } = await import('#shared/schemas/messages')
    const { deliveriesQuerySchema } = await import('#shared/schemas/devices')
    expect(inboxQuerySchema.parse({ before: '2026-11-23T19:40:08.016Z' }).before).toEqual(new Date('2026-11-23T19:40:08.016Z'))
    expect(inboxQuerySchema.safeParse({ before: '0001-01-01T00:00:00.000Z' }).success).toBe(true)
    expect(inboxQuerySchema.safeParse({ before: '+066768-10-19T06:37:37.086Z' }).success).toBe(false)
    expect(deliveriesQuerySchema.safeParse({ since: '-000001-01-01T00:00:00.000Z' }).success).toBe(false)
    expect(deliveriesQuerySchema.safeParse({ until: '8640000000000000' }).success).toBe(false)
  })
})

describe('source topics', () => {
  it('means every topic only when left empty; a list of nothing is refused', async () => {
    const { sourceCreateSchema } = await import('#shared/schemas/sources')
    const topics = (value: unknown) => sourceCreateSchema.safeParse({ name: 's', topics: value })
    for (const empty of [undefined, '', '  ', []]) expect(topics(empty).data?.topics, JSON.stringify(empty)).toBe('*')
    for (const typo of [',', ' , ,', [' '], ['', '']]) {
      const result = topics(typo)
      expect(result.success, JSON.stringify(typo)).toBe(false)
      expect(result.error?.issues[0]?.message).toMatch(/at least one pattern/)
    }
    expect(topics('a.*, b.c,').data?.topics).toBe('a.*,b.c')
  })
})

describe('messages', () => {
  it('says what is too long or missing in plain words', async () => {
    const { sourceCreateSchema } = await import('#shared/schemas/sources')
    const { groupUpdateSchema } = await import('#shared/schemas/accounts')
    expect(sourceCreateSchema.safeParse({ name: 'x'.repeat(65) }).error?.issues[0]?.message).toBe('must be at most 64 characters')
    expect(groupUpdateSchema.safeParse({ name: '' }).error?.issues[0]?.message).toBe('is required')
  })
  it('says what is wrong with a number in plain words, once', async () => {
    const { inboxQuerySchema, inboxReadSchema } = await import('#shared/schemas/messages')
    const issues = (schema: z.ZodType, value: unknown) => schema.safeParse(value).error?.issues.map(i => `${i.path.join('.')}: ${i.message}`)
    expect(issues(notificationSchema, { title: 't', priority: 6 })).toEqual(['priority: must be at most 5'])
    expect(issues(notificationSchema, { title: 't', priority: 0 })).toEqual(['priority: must be at least 1'])
    expect(issues(notificationSchema, { title: 't', priority: 2.5 })).toEqual(['priority: must be a whole number'])
    expect(issues(inboxQuerySchema, { limit: '99999999999999999999' })).toEqual(['limit: must be at most 500'])
    expect(issues(inboxQuerySchema, { limit: '9'.repeat(400) })).toEqual(['limit: must be at most 500'])
    expect(inboxQuerySchema.parse({ limit: '0500' }).limit).toBe(500)
    // With ids, all: false is no contradiction: a client may send it with every request.
    expect(inboxReadSchema.parse({ ids: ['a'], all: false })).toEqual({ ids: ['a'] })
    expect(issues(inboxReadSchema, { all: false })).toEqual(['all: must be true (or give ids instead)'])
  })
})

describe('notification links', () => {
  const link = (url: string) => notificationSchema.safeParse({ title: 't', url }).success
  it('takes absolute http(s) URLs and paths of the app', () => {
    for (const url of ['https://example.com/x?y=1#z', 'http://host:8080/', 'HTTPS://EXAMPLE.COM', '/devices', '/live/alerts.cpu?x=1'])
      expect(link(url), url).toBe(true)
  })
  it('refuses other sites written as paths, relative paths, other schemes, spaces and control characters', () => {
    for (const url of ['//evil.example/x', '/\\evil.example/x', 'x y', 'devices', 'javascript:alert(1)', 'mailto:a@b.c', 'https:/broken', '/a b', '/a\u0000', 'https://host/\n'])
      expect(link(url), url).toBe(false)
  })
})

describe('messages that say what is wrong', () => {
  const message = (schema: z.ZodType, value: unknown) => {
    const result = schema.safeParse(value)
    return result.success ? null : result.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ')
  }
  it('names the format of a date and the shape of a source\'s topics', () => {
    expect(message(z.object({ before: dateTimeSchema }), { before: 'notadate' })).toBe('before: must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z')
    // The + of an offset typed in a URL query arrives as a space.
    expect(message(z.object({ before: dateTimeSchema }), { before: '2026-01-31T13:00:00 01:00' }))
      .toBe('before: must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z (write + as %2B in a URL query)')
    expect(message(sourceTopicsSchema, Array.from({ length: 500 }, (_, i) => `t${i}.*`)))
      .toBe(': must be patterns separated by commas (up to 2,000 characters) or a list of up to 50 patterns')
    expect(message(sourceTopicsSchema, ['bad pattern!'])).toMatch(/each pattern must be/)
  })
  it('refuses a beforeId without its before, rather than ignoring it', async () => {
    const { inboxQuerySchema } = await import('#shared/schemas/messages')
    const { deliveriesQuerySchema } = await import('#shared/schemas/devices')
    for (const schema of [inboxQuerySchema, deliveriesQuerySchema]) {
      expect(message(schema, { beforeId: 'abc' })).toBe('beforeId: give it with before (the nextBefore and nextBeforeId of the previous page)')
      expect(message(schema, { beforeId: 'abc', before: '2026-01-01T00:00:00Z' })).toBeNull()
    }
  })
})
