// Topic names and topic patterns, shared by the server, the forms and the service worker.

/**
 * A topic name: letters, digits, `_`, `.`, `-`; 1 to 128 characters, not dots alone (`.` and `..`
 * would not survive in a URL path: clients normalise them away).
 */
export const TOPIC_RE = /^(?!\.+$)[A-Za-z0-9_.-]{1,128}$/

/** A topic pattern: a topic name in which `*` stands for any run of characters (dots included). */
export const TOPIC_PATTERN_RE = /^[A-Za-z0-9_.*-]{1,128}$/

const compiled = new Map<string, RegExp>()

function patternRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern)
  if (!re) {
    const body = pattern.split('*').map(part => part.replace(/[.-]/g, '\\$&')).join('.*')
    re = new RegExp(`^${body}$`)
    if (compiled.size > 10_000) compiled.clear()
    compiled.set(pattern, re)
  }
  return re
}

/** Whether `topic` matches `pattern` (`alerts.*` matches `alerts.disk` and `alerts.disk.sda`). */
export function topicMatches(pattern: string, topic: string): boolean {
  if (pattern === '*') return true
  if (!pattern.includes('*')) return pattern === topic
  return patternRegExp(pattern).test(topic)
}

/** Splits a comma separated list of patterns ("alerts.*, sensors.*") into its patterns. */
export function splitPatterns(patterns: string): string[] {
  return patterns.split(',').map(p => p.trim()).filter(Boolean)
}

export function topicMatchesAny(patterns: string | readonly string[], topic: string): boolean {
  const list = typeof patterns === 'string' ? splitPatterns(patterns) : patterns
  return list.some(pattern => topicMatches(pattern, topic))
}
