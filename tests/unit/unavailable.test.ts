import { describe, expect, it } from 'vitest'
import { isDatabaseUnavailable } from '../../server/utils/unavailable'

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
