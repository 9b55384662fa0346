import { describe, expect, it } from 'vitest'
import { concurrentChange, isDatabaseUnavailable } from '../../server/utils/unavailable'

describe('isDatabaseUnavailable', () => {
  it('recognises connection and timeout errors, also wrapped', () => {
    expect(isDatabaseUnavailable({ code: 'P1001' })).toBe(true)
    expect(isDatabaseUnavailable({ name: 'H3Error', cause: { code: 'P1008', name: 'PrismaClientKnownRequestError' } })).toBe(true)
    expect(isDatabaseUnavailable({ name: 'DriverAdapterError', message: 'connect ECONNREFUSED 127.0.0.1:5432' })).toBe(true)
    expect(isDatabaseUnavailable({ name: 'PrismaClientUnknownRequestError', message: 'SQLITE_BUSY: database is locked' })).toBe(true)
  })

  it('leaves other errors alone', () => {
    expect(isDatabaseUnavailable(new TypeError('x is undefined'))).toBe(false)
    expect(isDatabaseUnavailable({ code: 'P2002' })).toBe(false)
    expect(isDatabaseUnavailable(null)).toBe(false)
  })
})

describe('isDatabaseUnavailable with PostgreSQL', () => {
  it('recognises a database refusing connections and dropped connections', () => {
    expect(isDatabaseUnavailable({ name: 'DriverAdapterError', message: 'database "x" is not currently accepting connections', cause: { code: '55000', kind: 'postgres' } })).toBe(true)
    expect(isDatabaseUnavailable({ name: 'DriverAdapterError', message: 'x', cause: { code: '57P01', kind: 'postgres' } })).toBe(true)
    expect(isDatabaseUnavailable({ name: 'DriverAdapterError', message: 'x', cause: { code: '08006', kind: 'postgres' } })).toBe(true)
    expect(isDatabaseUnavailable({ name: 'DriverAdapterError', message: 'duplicate key', cause: { code: '23505', kind: 'postgres' } })).toBe(false)
  })
})

describe('concurrentChange', () => {
  it('makes a write that lost a race to another request a 409 or 404, also wrapped', () => {
    expect(concurrentChange({ code: 'P2002' })).toMatchObject({ statusCode: 409, message: expect.stringMatching(/at the same moment: retry$/) })
    expect(concurrentChange({ name: 'H3Error', cause: { code: 'P2003', name: 'PrismaClientKnownRequestError' } })).toMatchObject({ statusCode: 409 })
    expect(concurrentChange({ name: 'H3Error', cause: { code: 'P2025', name: 'PrismaClientKnownRequestError' } })).toMatchObject({ statusCode: 404 })
  })

  it('leaves other errors alone', () => {
    expect(concurrentChange({ code: 'P1001' })).toBeNull()
    expect(concurrentChange(new TypeError('x is undefined'))).toBeNull()
    expect(concurrentChange(null)).toBeNull()
  })
})
