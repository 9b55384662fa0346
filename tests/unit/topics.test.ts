import { describe, expect, it } from 'vitest'
import { splitPatterns, topicMatches, topicMatchesAny, TOPIC_RE } from '#shared/utils/topics'

describe('topic patterns', () => {
  it('matches exact names only without a wildcard', () => {
    expect(topicMatches('alerts', 'alerts')).toBe(true)
    expect(topicMatches('alerts', 'alerts.disk')).toBe(false)
    expect(topicMatches('a.b', 'aXb')).toBe(false)
  })

  it('lets * stand for any run of characters, dots included', () => {
    expect(topicMatches('alerts.*', 'alerts.disk')).toBe(true)
    expect(topicMatches('alerts.*', 'alerts.disk.sda')).toBe(true)
    expect(topicMatches('alerts.*', 'alerts')).toBe(false)
    expect(topicMatches('*.cpu', 'host1.cpu')).toBe(true)
    expect(topicMatches('*', 'anything-at_all.1')).toBe(true)
  })

  it('treats - and . in patterns literally', () => {
    expect(topicMatches('a-b.*', 'a-b.x')).toBe(true)
    expect(topicMatches('a-b.*', 'aXb.x')).toBe(false)
  })

  it('accepts comma separated lists', () => {
    expect(splitPatterns(' a.*, b ,,c')).toEqual(['a.*', 'b', 'c'])
    expect(topicMatchesAny('a.*, b', 'b')).toBe(true)
    expect(topicMatchesAny(['a.*'], 'c')).toBe(false)
  })

  it('validates topic names', () => {
    expect(TOPIC_RE.test('sensors.room-1_temp')).toBe(true)
    expect(TOPIC_RE.test('')).toBe(false)
    expect(TOPIC_RE.test('has space')).toBe(false)
    expect(TOPIC_RE.test('x'.repeat(128))).toBe(true)
    expect(TOPIC_RE.test('x'.repeat(129))).toBe(false)
  })
})
