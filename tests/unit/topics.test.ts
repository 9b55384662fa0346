import { describe, expect, it } from 'vitest'
import { splitPatterns, topicMatches, topicMatchesAny, TOPIC_PATTERN_RE, TOPIC_RE } from '#shared/utils/topics'

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

  it('matches several wildcards as a regular expression would, without backtracking for ever', () => {
    // Each case checked against the regular expression the pattern stands for.
    const cases: [string, string][] = [
      ['*.*.critical', 'a.b.critical'], ['*.*.critical', 'a.critical'], ['a*b*c', 'abc'], ['a*b*c', 'aXbYc'],
      ['a*b*c', 'acb'], ['*ab*ab*', 'xabyab'], ['*ab*ab*', 'xaby'], ['a*a', 'a'], ['a*a', 'aa'], ['**x', 'x'],
      ['*a*', 'bbb'], ['x*', 'x'], ['*x', 'yx'], ['a*ba*b', 'ababab'], ['a*ba*b', 'abab'], ['ab*ba', 'aba'],
    ]
    for (const [pattern, topic] of cases) {
      const re = new RegExp(`^${pattern.split('*').map(p => p.replace(/[.-]/g, '\\$&')).join('.*')}$`)
      expect(topicMatches(pattern, topic), `${pattern} ${topic}`).toBe(re.test(topic))
    }
    // A regular expression backtracks for minutes on these; here they are answered at once.
    expect(topicMatches('*a*a*a*a*a*a*a*a*b', 'a'.repeat(128))).toBe(false)
    expect(topicMatches('*.*.*.*.*.*.*.critical', 'a.'.repeat(63) + 'a')).toBe(false)
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
    expect(TOPIC_RE.test('..')).toBe(false)
    expect(TOPIC_PATTERN_RE.test('...')).toBe(false)
    expect(TOPIC_PATTERN_RE.test('a.*')).toBe(true)
  })
})
