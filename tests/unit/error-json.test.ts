import { describe, expect, it } from 'vitest'
import { errorJson } from '../../server/utils/error-json'

describe('errorJson', () => {
  it('writes an error answer whatever its data holds', () => {
    expect(JSON.parse(errorJson({ statusCode: 400, message: 'bad', data: { issues: [{ maximum: 10n }] } }))).toEqual({ statusCode: 400, message: 'bad', data: { issues: [{ maximum: '10' }] } })
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    expect(JSON.parse(errorJson({ statusCode: 400, message: 'bad', data: cycle }))).toEqual({ statusCode: 400, message: 'bad' })
    expect(JSON.parse(errorJson({ statusCode: 404, message: 'gone' }))).toEqual({ statusCode: 404, message: 'gone' })
  })
})
